// HealthShm: the shared segment as an embedding server holds it, named once.
//
// The server's parent calls Create() before it forks (the segment is created and published
// in one step); each child either keeps the handle it inherited or calls Attach() with the
// same name. The handle is a cheap copyable reference to one mapping: every CheckerSet made
// from it holds the mapping too, so the segment outlives the checkers whatever order the
// caller drops things in. Thread-compatible; the mapping itself is safe from any process.
#ifndef UPCHECK_HEALTH_SHM_H_
#define UPCHECK_HEALTH_SHM_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_EMBED)
#error "upcheck/health_shm.h belongs to embed/, a layer above (see lib/meson.build)"
#endif

#include <memory>
#include <string>
#include <string_view>

#include "upcheck/segment.h"
#include "upcheck/status.h"

namespace upcheck {

class HealthShm {
 public:
  // Creates `upcheck.<options.name>` with the dict only (no registry, no worker table) and
  // publishes it, so that Attach() in a child finds it. Errors as Segment::Create's.
  static Result<HealthShm> Create(const Segment::CreateOptions& options);
  // Opens a published segment by name. Errors as Segment::Open's ("segment 'x' not found").
  static Result<HealthShm> Attach(std::string_view name);

  // Removes the name (the parent, when the server exits); mappings stay valid.
  Status Remove() const;

  // The name without the "upcheck." prefix: the checkers' `shm` option.
  const std::string& name() const { return segment_->name(); }
  Segment& segment() const { return *segment_; }

 private:
  explicit HealthShm(std::unique_ptr<Segment> segment);
  // Shared with the CheckerSets made from this handle: the last owner unmaps.
  std::shared_ptr<Segment> segment_;
};

}  // namespace upcheck

#endif  // UPCHECK_HEALTH_SHM_H_
