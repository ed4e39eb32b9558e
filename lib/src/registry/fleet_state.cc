// The fleet tier's figures per upstream (DESIGN §11), kept beside the balancer's: what
// /metrics, /status.json and `upcheck-shmctl fleet` show of a host's place in its fleet.
#include <bit>

#include <fmt/format.h>

#include "registry/registry_access.h"
#include "registry/registry_layout.h"
#include "upcheck/internal/registry.h"
#include "util/clock.h"

namespace upcheck {

using shm::UpstreamShm;

void Registry::RecordFleet(const FleetEvent& e) {
  const std::optional<size_t> u = FindUpstream(e.upstream);
  if (!u) return;
  UpstreamShm& us = Up(h_, *u);
  constexpr auto kRelaxed = std::memory_order_relaxed;
  us.fleet_role.store(static_cast<uint32_t>(e.role), kRelaxed);
  if (e.version > 0) us.fleet_version.store(std::bit_cast<uint64_t>(e.version), kRelaxed);
  const int64_t now = UnixMs();
  if (e.fell_back) {
    us.fleet_fallbacks.fetch_add(1, kRelaxed);
    JournalEvent event;
    event.unix_ms = now;
    event.kind = EventKind::kFleetFallback;
    event.upstream = std::string(e.upstream);
    event.message = "fleet: probing alone";
    event.detail = std::string(e.error);
    AppendEvent(event);
  }
  for (const FleetCopy& c : e.copies) {
    shm::PeerDetailsShm* d = FindDetails(e.upstream, c.backup, c.id);
    if (d == nullptr) continue;
    (c.down ? d->turned_down : d->turned_up).fetch_add(1, kRelaxed);
    d->last_change_ms.store(now, kRelaxed);
    JournalEvent event;
    event.unix_ms = now;
    event.kind = c.down ? EventKind::kDown : EventKind::kUp;
    event.upstream = std::string(e.upstream);
    event.peer = std::string(c.peer);
    event.backup = c.backup;
    event.message = fmt::format("peer {} is turned {} by the fleet ({})", c.peer,
                                c.down ? "down" : "up", e.holder.empty() ? "?" : e.holder);
    AppendEvent(event);
  }
}

FleetRole Registry::fleet_role(size_t u) const {
  if (u >= h_->upstream_count) return FleetRole::kNone;
  return static_cast<FleetRole>(Up(h_, u).fleet_role.load(std::memory_order_relaxed));
}

double Registry::fleet_version(size_t u) const {
  if (u >= h_->upstream_count) return 0;
  return std::bit_cast<double>(Up(h_, u).fleet_version.load(std::memory_order_relaxed));
}

uint64_t Registry::fleet_fallbacks(size_t u) const {
  return u < h_->upstream_count ? Up(h_, u).fleet_fallbacks.load(std::memory_order_relaxed) : 0;
}

}  // namespace upcheck
