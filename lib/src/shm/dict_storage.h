// DictStorage: the chunk-level primitives of the shared dict (find, allocate, link, free,
// evict, verify, repair), over a DictShm that some process formatted.
//
// Not thread-safe and not atomic by itself: every method that ends in Locked requires the
// dict lock held (DictLock). SharedDict builds the ngx.shared.DICT operations from these.
#ifndef UPCHECK_SHM_DICT_STORAGE_H_
#define UPCHECK_SHM_DICT_STORAGE_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_SHM)
#error "shm/dict_storage.h belongs to shm/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <string>
#include <string_view>

#include "shm/dict_layout.h"
#include "upcheck/status.h"

namespace upcheck::shm {

uint32_t HashKey(std::string_view key);

// Holds the dict's robust mutex for a scope. When the previous holder died inside, the
// storage is repaired before the constructor returns.
class DictLock {
 public:
  explicit DictLock(DictShm* d);
  ~DictLock();
  DictLock(const DictLock&) = delete;
  DictLock& operator=(const DictLock&) = delete;

 private:
  DictShm* d_;
};

class DictStorage {
 public:
  explicit DictStorage(DictShm* d) : d_(d), chunks_(Chunks(d)), buckets_(Buckets(d)) {}

  static uint32_t ChunksFor(size_t key_len, size_t value_len) {
    size_t total = key_len + value_len;
    if (total <= kHeadData) return 1;
    return 1 + static_cast<uint32_t>((total - kHeadData + kContData - 1) / kContData);
  }
  static bool Expired(const HeadChunkShm& h, int64_t now) {
    return h.expires_ms() != 0 && (h.expires_ms() < 0 || h.expires_ms() <= now);
  }

  HeadChunkShm& head(uint32_t i) { return chunks_[i].head; }
  uint32_t chunk_count() const { return d_->chunk_count; }
  uint32_t free_count() const { return d_->free_count; }
  uint32_t lru_tail() const { return d_->lru_tail; }

  // The head index of key, or kNil.
  uint32_t FindLocked(std::string_view key, uint32_t hash);
  // Takes n chunks off the free list and formats them as an unlinked entry (kind kHead
  // written last). REQUIRES: free_count() >= n.
  uint32_t BuildEntryLocked(std::string_view key, uint32_t hash, ValueType type, double number,
                            std::string_view str, int64_t expires_ms);
  void LinkLocked(uint32_t i);                         // into its bucket and at the LRU head
  void ReplaceLocked(uint32_t old_i, uint32_t new_i);  // new takes old's place, old freed
  void RemoveLocked(uint32_t i);                       // unlinks and frees
  void TouchLocked(uint32_t i);                        // moves to the LRU head
  // Rewrites a non-string entry's type, number and expiry under the intent record, so a
  // holder killed in the middle leaves either the old entry or the new one (repair rolls
  // the rewrite forward). REQUIRES: head(i) and the new value hold no string.
  void RewriteLocked(uint32_t i, ValueType type, double number, int64_t expires_ms);
  // flush_all: every entry expired, rolled forward by repair if interrupted.
  void ExpireAllLocked();
  // Frees up to n expired entries from the LRU tail, stopping at the first live one.
  void ExpireTailLocked(int n, int64_t now);
  // Frees the LRU tail entry. Returns true when it was live.
  bool EvictTailLocked(int64_t now);

  std::string KeyOf(uint32_t i);
  std::string StringOf(uint32_t i);

  Status VerifyLocked();
  void RepairLocked();

 private:
  bool KeyEquals(uint32_t i, std::string_view key);
  void CopyOut(uint32_t i, size_t offset, size_t len, char* out);
  void FreeChunksLocked(uint32_t i);
  void UnlinkBucketLocked(uint32_t i);
  void UnlinkLruLocked(uint32_t i);
  bool ChainValid(uint32_t i, std::string& claimed);
  void FinishRewriteLocked(bool hook);

  DictShm* d_;
  DictChunkShm* chunks_;
  uint32_t* buckets_;
};

// Called with the lock held in the middle of mutations; see SharedDict.
void RunLockedHook();

}  // namespace upcheck::shm

#endif  // UPCHECK_SHM_DICT_STORAGE_H_
