// The header at offset 0 of every upcheck segment.
//
// It is the only part a reader trusts before checking it: magic and layout version first,
// then every area's bounds against the mapped size. Written once by the creator before
// `ready` is set; after that only `generation` and `creator_pid` change (persist reattach).
#ifndef UPCHECK_SHM_SEGMENT_HEADER_H_
#define UPCHECK_SHM_SEGMENT_HEADER_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_SHM)
#error "shm/segment_header.h belongs to shm/, a layer above (see lib/meson.build)"
#endif

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "upcheck/internal/segment_setup.h"

namespace upcheck::shm {

inline constexpr uint64_t kSegmentMagic = 0x6b63656863707521ull;  // "!upcheck"
inline constexpr uint32_t kDictAreaId = 0xD1C7;
inline constexpr size_t kSegmentHeaderBytes = 4096;  // the Boost heap starts after this page

struct SegmentAreaShm {
  uint32_t id;  // 0: unused slot; kDictAreaId or a SegmentArea value
  uint32_t reserved;
  uint64_t offset;  // from the segment base
  uint64_t bytes;
};

struct SegmentHeaderShm {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t header_bytes;
  uint64_t segment_bytes;
  std::atomic<int32_t> creator_pid;
  std::atomic<uint32_t> generation;
  std::atomic<uint32_t> ready;  // 1 once Publish() ran
  uint32_t reserved;
  int64_t created_ms;
  uint64_t dict_size;                          // Segment::CreateOptions::size, as asked
  SegmentAreaShm areas[kMaxSegmentAreas + 1];  // slot 0: the dict
};

static_assert(std::is_standard_layout_v<SegmentHeaderShm>);
static_assert(std::is_trivially_destructible_v<SegmentHeaderShm>);
static_assert(std::atomic<int32_t>::is_always_lock_free &&
              std::atomic<uint32_t>::is_always_lock_free);
static_assert(sizeof(SegmentHeaderShm) <= kSegmentHeaderBytes);

}  // namespace upcheck::shm

#endif  // UPCHECK_SHM_SEGMENT_HEADER_H_
