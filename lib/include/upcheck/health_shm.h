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

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "upcheck/check_options.h"
#include "upcheck/segment.h"
#include "upcheck/status.h"
#include "upcheck/upstreams.h"

namespace upcheck {

// An upstream as a host server declares it to CreateForHost(): what the tools and every
// worker's status pages list.
struct HostUpstream {
  std::string name;
  std::vector<PeerConfig> primary, backup;
  std::optional<CheckOptions> check;  // none: listed "(NO checkers)"
};

class HealthShm {
 public:
  // Creates `upcheck.<options.name>` with the dict only (no registry, no worker table) and
  // publishes it, so that Attach() in a child finds it. Errors as Segment::Create's.
  static Result<HealthShm> Create(const Segment::CreateOptions& options);
  // The same with a registry, as upcheckd makes it: the upstreams, their peers and check
  // options, and a worker table of max_workers rows, so that upcheck-status and
  // upcheck-shmctl see the host's upstreams and workers. With carry_from (a host's reload
  // keeping its dict), the live entries of that segment's dict are copied in as they are,
  // with their TTLs and LRU order: the state is positional, as lua_shared_dict's (Q6).
  // Errors: Segment::Create's, or a bad peer ("upstream \"u\": bad peer address ...").
  static Result<HealthShm> CreateForHost(const Segment::CreateOptions& options,
                                         const std::vector<HostUpstream>& upstreams,
                                         uint32_t max_workers,
                                         const HealthShm* carry_from = nullptr);
  // Opens a published segment by name. Errors as Segment::Open's ("segment 'x' not found").
  static Result<HealthShm> Attach(std::string_view name);

  // Removes the name (the parent, when the server exits); mappings stay valid.
  Status Remove() const;
  // Removes the name only if it still names this segment, not one a newer master made
  // under the same name (nginx's binary upgrade runs two masters). Ok when it does not.
  Status RemoveIfCurrent() const;

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
