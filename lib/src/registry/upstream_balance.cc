// Registry's balancer state per upstream (DESIGN §10): the slow_start and panic_threshold
// that Create() stored, the panic flag and entry counter the workers' balancers keep, and
// the arithmetic that the balancer and the status pages share so that they agree.
#include <algorithm>

#include "registry/registry_access.h"
#include "registry/registry_layout.h"
#include "upcheck/internal/registry.h"

namespace upcheck {

using shm::Up;
using shm::UpstreamShm;

double SlowStartWeight(bool down, int64_t last_change_ms, int64_t slow_start_ms, int64_t now_ms) {
  if (slow_start_ms <= 0 || down || last_change_ms <= 0) return 1.0;
  const int64_t elapsed = now_ms - last_change_ms;
  if (elapsed >= slow_start_ms) return 1.0;
  const double share =
      elapsed <= 0 ? 0.0 : static_cast<double>(elapsed) / static_cast<double>(slow_start_ms);
  return std::max(kSlowStartMinWeight, share);
}

PrimaryHealth CountPrimaries(std::span<const PeerInfo> primary) {
  PrimaryHealth h;
  for (const PeerInfo& peer : primary) {
    if (peer.admin == AdminState::kDown || peer.admin == AdminState::kDrain) continue;
    ++h.eligible;
    if (peer.pickable()) ++h.up;
  }
  return h;
}

bool BelowPanicThreshold(PrimaryHealth health, uint32_t threshold_percent) {
  return threshold_percent > 0 && health.eligible > 0 &&
         health.up * 100 < size_t{threshold_percent} * health.eligible;
}

int64_t Registry::slow_start_ms(size_t u) const {
  return u < h_->upstream_count ? Up(h_, u).slow_start_ms : 0;
}

uint32_t Registry::panic_threshold(size_t u) const {
  return u < h_->upstream_count ? Up(h_, u).panic_threshold : 0;
}

int64_t Registry::last_change_ms(size_t u, bool backup, uint32_t id) const {
  if (u >= h_->upstream_count) return 0;
  const UpstreamShm& us = Up(h_, u);
  const size_t k = (backup ? us.primary_count : 0) + id;
  if (k >= size_t{us.primary_count} + us.backup_count) return 0;
  // One aligned atomic: no need for the record's sequence lock.
  return shm::PeerAt(h_, us.first_peer + k).details.last_change_ms.load(std::memory_order_relaxed);
}

bool Registry::SetPanic(size_t u, bool panic) {
  if (u >= h_->upstream_count) return false;
  UpstreamShm& us = Up(h_, u);
  const uint32_t was = us.panic.exchange(panic ? 1 : 0, std::memory_order_acq_rel);
  if (was == (panic ? 1u : 0u)) return false;
  if (panic) us.panic_total.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool Registry::panic(size_t u) const {
  return u < h_->upstream_count && Up(h_, u).panic.load(std::memory_order_acquire) != 0;
}

uint64_t Registry::panic_total(size_t u) const {
  return u < h_->upstream_count ? Up(h_, u).panic_total.load(std::memory_order_relaxed) : 0;
}

}  // namespace upcheck
