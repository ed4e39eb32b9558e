// Internal to this source tree (upcheckd, the embedding CheckerSet and the tests).
// AdminSync: brings one process's Upstreams view to the admin states that upcheck-shmctl
// wrote in the registry. Sync() costs one atomic load when nothing changed and no admin
// state of the upstream has an expiry; with one pending it also reads the clock, so that
// an expired state falls back to the checks' verdict without anybody clearing it.
// One per view; same thread rules as the view. Upstreams of the view are matched to the
// registry's by name; those it does not know are left alone.
#ifndef UPCHECK_INTERNAL_ADMIN_SYNC_H_
#define UPCHECK_INTERNAL_ADMIN_SYNC_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_REGISTRY)
#error "upcheck/internal/admin_sync.h belongs to registry/, a layer above (see lib/meson.build)"
#endif

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "upcheck/internal/registry.h"
#include "upcheck/upstreams.h"

namespace upcheck {

class AdminSync {
 public:
  // `registry` is a handle on the segment, which must stay mapped while this is used.
  explicit AdminSync(Registry registry) : registry_(registry) {}

  // Applies upstream `index` of the view (its AddUpstream order) if its admin states
  // moved or one of them expired since the last call.
  void Sync(Upstreams& view, size_t index);
  void SyncAll(Upstreams& view);

 private:
  struct Applied {
    std::optional<size_t> registry_index;  // nullopt: the registry does not know it
    bool synced = false;
    uint64_t seq = 0;            // the admin_seq last applied
    int64_t next_expiry_ms = 0;  // the soonest expiry among the states applied; 0: none
  };
  Registry registry_;
  std::vector<Applied> applied_;  // by view index; grows as the view does
};

}  // namespace upcheck

#endif  // UPCHECK_INTERNAL_ADMIN_SYNC_H_
