// Segment: the named POSIX shared-memory object that upcheck's processes share.
//
// One process (the master, or a tool for tests and operators) creates the segment as
// `upcheck.<name>`, mode 0600, and lays it out once: a versioned header and the shared dict
// (the daemon adds areas of its own) before calling Publish(). Its size is asked for as
// lua_shared_dict's is: the dict's capacity; the header and the dict's index come on top.
// Any other process opens it by name; Open() checks the magic, the layout version and the
// header's bounds before trusting anything in it. After set-up no process allocates in the
// segment again; all later coordination goes through SharedDict.
#ifndef UPCHECK_SEGMENT_H_
#define UPCHECK_SEGMENT_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_SHM)
#error "upcheck/segment.h belongs to shm/, a layer above (see lib/meson.build)"
#endif

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "upcheck/shared_dict.h"
#include "upcheck/status.h"

namespace upcheck {

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
    bool replace = false;  // remove an existing segment of that name first
  };

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // Creates and maps a new segment of SegmentBytes(options) bytes. Fails if one exists
  // (unless replace), if the name is not valid ([A-Za-z0-9_.-], 1 to 64 bytes) or if the
  // size is outside kMinSize..kMaxSize (the error names both bounds).
  static Result<std::unique_ptr<Segment>> Create(const CreateOptions& options);
  // The object's size for `options`: header page, dict (index and chunks) and the set-up
  // heap's own overhead, rounded up to a page.
  static size_t SegmentBytes(const CreateOptions& options);
  // Opens a published segment: "segment 'x' not found", "segment 'x' has layout version
  // 3; this build reads 1", "segment 'x' is not an upcheck segment", and so on.
  static Result<std::unique_ptr<Segment>> Open(std::string_view name);
  // Removes the name (processes that mapped it keep their mapping).
  static Status Remove(std::string_view name);
  static Status ValidateName(std::string_view name);

  // Makes the segment visible to Open(). Set-up ends here.
  void Publish();

  SharedDict& dict() { return *dict_; }
  SegmentInfo info() const;
  const std::string& name() const { return name_; }

 private:
  friend class SegmentSetUp;  // the daemon's areas (upcheck/internal/segment_setup.h)
  struct Mapping;
  // Create() and SegmentBytes() with reserved_bytes for the areas on top of the dict.
  static Result<std::unique_ptr<Segment>> Create(const CreateOptions& options,
                                                 size_t reserved_bytes);
  static size_t SegmentBytes(const CreateOptions& options, size_t reserved_bytes);
  Segment(std::string name, std::unique_ptr<Mapping> mapping);
  std::string name_;
  std::unique_ptr<Mapping> mapping_;
  std::unique_ptr<SharedDict> dict_;
};

// "upcheck.<name>": the POSIX shm object name (without the leading slash).
std::string SegmentObjectName(std::string_view name);

}  // namespace upcheck

#endif  // UPCHECK_SEGMENT_H_
