// Segment: the named POSIX shared-memory object that upcheck's processes share.
//
// One process (the master, or a tool for tests and operators) creates the segment as
// `upcheck.<name>`, mode 0600, and lays it out once: a versioned header, the shared dict,
// and optional areas (registry, worker table) that it allocates before calling Publish().
// Its size is asked for as lua_shared_dict's is: the dict's capacity. The header, the
// dict's index and the areas come on top, so the object is bigger than that.
// Any other process opens it by name; Open() checks the magic, the layout version and the
// header's bounds before trusting anything in it. After set-up no process allocates in the
// segment again; all later coordination goes through SharedDict and atomics in the areas.
#ifndef UPCHECK_SEGMENT_H_
#define UPCHECK_SEGMENT_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_SHM)
#error "upcheck/segment.h belongs to shm/, a layer above this one (see lib/meson.build)"
#endif

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "upcheck/shared_dict.h"
#include "upcheck/status.h"

namespace upcheck {

// Areas a segment may hold besides the dict. The values are stored in shm: never reuse one
// (2 and 3 were given out once).
enum class SegmentArea : uint32_t {
  kRegistry = 1,  // upstreams, peers, roles, check options, details, workers (the daemon)
};
inline constexpr uint32_t kMaxSegmentAreas = 8;

struct SegmentInfo {
  std::string name;             // shm.name, without the "upcheck." prefix
  size_t size = 0;              // bytes mapped: the whole object
  size_t dict_size = 0;         // CreateOptions::size, as asked (shm.size)
  uint32_t layout_version = 0;  // of the segment that was opened
  int32_t creator_pid = 0;      // the master's pid
  uint32_t generation = 0;      // bumped each time a master (re)attaches with persist
  int64_t created_ms = 0;       // MonotonicMs() at creation
};

class Segment {
 public:
  // 3: the size asked for is the dict's capacity, recorded in the header.
  static constexpr uint32_t kLayoutVersion = 3;
  // Bounds of CreateOptions::size. ngx_lua refuses a lua_shared_dict below 8k.
  static constexpr size_t kMinSize = size_t{8} * 1024;
  static constexpr size_t kMaxSize = size_t{1024} * 1024 * 1024;

  struct CreateOptions {
    std::string name;
    // The dict's capacity (shm.size): this many bytes of 64-byte chunks (rounded down to a
    // chunk), as a lua_shared_dict of that size. The segment is bigger (SegmentBytes()).
    size_t size = size_t{1024} * 1024;
    size_t reserved_bytes = 0;  // for AllocateArea(), on top of the dict
    bool replace = false;       // remove an existing segment of that name first
  };

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // Creates and maps a new segment of SegmentBytes(options) bytes. Fails if one exists
  // (unless replace), if the name is not valid ([A-Za-z0-9_.-], 1 to 64 bytes) or if the
  // size is outside kMinSize..kMaxSize (the error names both bounds).
  static Result<std::unique_ptr<Segment>> Create(const CreateOptions& options);
  // The object's size for `options`: header page, dict (index and chunks), reserved bytes
  // and the set-up heap's own overhead, rounded up to a page.
  static size_t SegmentBytes(const CreateOptions& options);
  // Opens a published segment: "segment 'x' not found", "segment 'x' has layout version
  // 3; this build reads 1", "segment 'x' is not an upcheck segment", and so on.
  static Result<std::unique_ptr<Segment>> Open(std::string_view name);
  // Removes the name (processes that mapped it keep their mapping).
  static Status Remove(std::string_view name);
  static Status ValidateName(std::string_view name);

  // Set-up only, in the creating process, before Publish(): a zeroed block for `area`.
  Result<void*> AllocateArea(SegmentArea area, size_t bytes);
  // Makes the segment visible to Open(). Set-up ends here.
  void Publish();
  // Bumps the generation (a master reattaching to a persistent segment).
  uint32_t BumpGeneration(int32_t new_creator_pid);

  // The area's block, or nullptr when the segment has none. *bytes gets its size.
  void* area(SegmentArea area, size_t* bytes = nullptr) const;
  SharedDict& dict() { return *dict_; }
  SegmentInfo info() const;
  const std::string& name() const { return name_; }

 private:
  struct Mapping;
  Segment(std::string name, std::unique_ptr<Mapping> mapping);
  std::string name_;
  std::unique_ptr<Mapping> mapping_;
  std::unique_ptr<SharedDict> dict_;
};

// "upcheck.<name>": the POSIX shm object name (without the leading slash).
std::string SegmentObjectName(std::string_view name);

}  // namespace upcheck

#endif  // UPCHECK_SEGMENT_H_
