// Internal to this source tree (upcheckd, the tools and the tests); not installed.
// SegmentSetUp: how the daemon lays out the areas it keeps beside the dict (the registry)
// in a Segment it creates, and finds them again in one it opens. Allocation is set-up only:
// in the creating process, before Segment::Publish(). Area() and BumpGeneration() are safe
// from any attached process.
#ifndef UPCHECK_INTERNAL_SEGMENT_SETUP_H_
#define UPCHECK_INTERNAL_SEGMENT_SETUP_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_SHM)
#error "upcheck/internal/segment_setup.h belongs to shm/, a layer above (see lib/meson.build)"
#endif

#include <cstddef>
#include <cstdint>
#include <memory>

#include "upcheck/segment.h"
#include "upcheck/status.h"

namespace upcheck {

// Areas a segment may hold besides the dict. The values are stored in shm: never reuse one
// (2 and 3 were given out once).
enum class SegmentArea : uint32_t {
  kRegistry = 1,  // upstreams, peers, roles, check options, details, workers (the daemon)
  kJournal = 4,   // the event ring
};
inline constexpr uint32_t kMaxSegmentAreas = 8;

class SegmentSetUp {
 public:
  // Segment::Create() with reserved_bytes on top of the dict for AllocateArea(); fails
  // beyond 1 TiB of them ("cannot reserve N bytes in a segment").
  static Result<std::unique_ptr<Segment>> Create(const Segment::CreateOptions& options,
                                                 size_t reserved_bytes);
  // The object's size for `options` and reserved_bytes (Segment::SegmentBytes() is the
  // same with none).
  static size_t SegmentBytes(const Segment::CreateOptions& options, size_t reserved_bytes);
  // Set-up only, before Publish(): a zeroed block for `area`, from the reserved bytes.
  static Result<void*> AllocateArea(Segment& segment, SegmentArea area, size_t bytes);
  // The area's block, or nullptr when the segment has none. *bytes gets its size.
  static void* Area(const Segment& segment, SegmentArea area, size_t* bytes = nullptr);
  // Bumps the generation (a master reattaching to a persistent segment).
  static uint32_t BumpGeneration(Segment& segment, int32_t new_creator_pid);
};

}  // namespace upcheck

#endif  // UPCHECK_INTERNAL_SEGMENT_SETUP_H_
