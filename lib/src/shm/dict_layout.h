// The shared dict's storage as it lies in the segment.
//
// Plain data only (standard layout, trivially destructible, indices instead of pointers),
// so any process can map it at any address. The storage is an array of 64-byte chunks: an
// entry is a head chunk (its fields and the first bytes of key+value) followed by a chain
// of continuation chunks. Buckets hold head indices; heads chain per bucket and form one
// LRU list. Free chunks form a list. Everything is guarded by DictShm::mutex, a robust
// process-shared mutex; when its holder dies, the next locker runs RepairLocked(), which
// rebuilds every list from the chunks themselves.
#ifndef UPCHECK_SHM_DICT_LAYOUT_H_
#define UPCHECK_SHM_DICT_LAYOUT_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_SHM)
#error "shm/dict_layout.h belongs to shm/, a layer above (see lib/meson.build)"
#endif

#include <pthread.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "upcheck/status.h"

namespace upcheck::shm {

inline constexpr uint32_t kNil = 0xFFFFFFFFu;
inline constexpr size_t kChunkSize = 64;
inline constexpr uint64_t kDictMagic = 0x7563646963743031ull;  // "ucdict01"

enum class ChunkKind : uint8_t { kFree = 0, kHead = 1, kCont = 2 };
enum class ValueType : uint8_t { kNumber = 1, kBoolean = 2, kString = 3 };

// Fields shared by every chunk kind (the common initial sequence of the union below).
struct ChunkCommonShm {
  uint32_t next;  // head: first continuation; cont: next continuation; free: next free
  ChunkKind kind;
};

struct HeadChunkShm {
  uint32_t next;
  ChunkKind kind;
  ValueType value_type;
  uint16_t key_len;    // 1..65535
  uint32_t value_len;  // string bytes (0 for numbers and booleans)
  uint32_t hash;       // of the key
  uint32_t bucket_next;
  uint32_t lru_prev;  // towards the most recently used end
  uint32_t lru_next;  // towards the least recently used end
  // Two 8-byte fields kept unaligned (at offsets 28 and 36, never across a cache line) so
  // that 20 bytes of key fit in the head chunk:
  //   expires: 0 never; < 0 flushed; else absolute MonotonicMs()
  //   number: the number, or 0/1 for a boolean
  char fixed[16];
  char data[20];  // key bytes, then string bytes; continues in the chain

  int64_t expires_ms() const {
    int64_t v;
    std::memcpy(&v, fixed, sizeof(v));
    return v;
  }
  void set_expires_ms(int64_t v) { std::memcpy(fixed, &v, sizeof(v)); }
  double number() const {
    double v;
    std::memcpy(&v, fixed + 8, sizeof(v));
    return v;
  }
  void set_number(double v) { std::memcpy(fixed + 8, &v, sizeof(v)); }
};

struct ContChunkShm {
  uint32_t next;
  ChunkKind kind;
  uint8_t pad[3];
  char data[56];
};

union DictChunkShm {
  ChunkCommonShm common;
  HeadChunkShm head;
  ContChunkShm cont;
};

inline constexpr size_t kHeadData = sizeof(HeadChunkShm::data);
inline constexpr size_t kContData = sizeof(ContChunkShm::data);

// Intent record: what a mutation that spans several stores is doing, written before the
// first of them, so that a holder killed in the middle loses at most that operation:
//  - a replacement (new head built, old one still linked): repair keeps the new entry when
//    it is whole and drops the old one; otherwise the reverse;
//  - an in-place rewrite of an entry's type, number and expiry (set of a non-string over a
//    non-string, incr): rolled forward from the record, so the entry never shows a mix of
//    old and new fields. rewrite_head is stored last (the commit word) and cleared last;
//  - a flush_all walking the LRU list: rolled forward (every entry expired).
struct DictIntentShm {
  uint32_t new_head;
  uint32_t old_head;
  uint32_t rewrite_head;  // kNil: no rewrite in progress
  ValueType rewrite_type;
  uint8_t flushing;  // 1: a flush_all is in progress
  uint8_t pad[2];
  char rewrite_fixed[16];  // the new HeadChunkShm::fixed (expiry, number)
};

struct DictShm {
  uint64_t magic;
  uint64_t bytes;  // whole area, this header included
  uint32_t chunk_count;
  uint32_t bucket_count;    // a power of two
  uint64_t buckets_offset;  // from the start of DictShm
  uint64_t chunks_offset;   // from the start of DictShm, 64-byte aligned
  pthread_mutex_t mutex;    // robust, process-shared
  uint32_t free_head;
  uint32_t free_count;
  uint32_t lru_head;  // most recently used
  uint32_t lru_tail;  // least recently used
  uint32_t entries;
  uint32_t repairs;  // times a dead holder's state was repaired
  DictIntentShm intent;
};

static_assert(sizeof(DictChunkShm) == kChunkSize);
static_assert(sizeof(HeadChunkShm) == kChunkSize && sizeof(ContChunkShm) == kChunkSize);
static_assert(std::is_standard_layout_v<DictChunkShm> &&
              std::is_trivially_destructible_v<DictChunkShm>);
static_assert(std::is_standard_layout_v<DictShm> && std::is_trivially_destructible_v<DictShm>);

inline uint32_t* Buckets(DictShm* d) {
  return reinterpret_cast<uint32_t*>(reinterpret_cast<char*>(d) + d->buckets_offset);
}
inline DictChunkShm* Chunks(DictShm* d) {
  return reinterpret_cast<DictChunkShm*>(reinterpret_cast<char*>(d) + d->chunks_offset);
}

inline constexpr size_t kMinDictChunks = 64;

// Bytes of a dict area that holds `chunks` chunks: its header, the bucket array (one bucket
// per two chunks) and the chunks. FormatDict() of that many bytes lays out exactly `chunks`.
size_t DictAreaBytes(size_t chunks);
// Lays out an empty dict, with as many chunks as fit (at least kMinDictChunks), in `bytes`
// zeroed bytes at `memory` (64-byte aligned).
Result<DictShm*> FormatDict(void* memory, size_t bytes);
// Checks that the header of a dict found in a segment is sane for an area of `bytes`, so
// that no later access can fall outside it.
Status ValidateDictHeader(const DictShm* d, size_t bytes);

}  // namespace upcheck::shm

#endif  // UPCHECK_SHM_DICT_LAYOUT_H_
