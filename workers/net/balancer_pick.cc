#include "balancer_pick.h"

#include <algorithm>
#include <cmath>

namespace upcheck {
namespace {

// A full weight; a ramping peer's is a share of it, at least 1.
constexpr int64_t kWeightScale = 1000;

bool AnyPickable(std::span<const PeerInfo> peers) {
  return std::any_of(peers.begin(), peers.end(), [](const PeerInfo& p) { return p.pickable(); });
}

}  // namespace

std::optional<size_t> SmoothWeighted::Next(std::span<const int64_t> weights) {
  credit_.resize(weights.size(), 0);
  int64_t total = 0;
  std::optional<size_t> best;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] <= 0) {
      credit_[i] = 0;  // a peer that comes back starts even, not with an old debt
      continue;
    }
    credit_[i] += weights[i];
    total += weights[i];
    if (!best || credit_[i] > credit_[*best]) best = i;
  }
  if (best) credit_[*best] -= total;
  return best;
}

const PeerInfo* BalancerPick::Next(std::span<const PeerInfo> primary,
                                   std::span<const PeerInfo> backup, const LastChange& last_change,
                                   int64_t now_ms) {
  health_ = CountPrimaries(primary);
  // With no primary up, the backups are there to take over; panic is for the rest.
  panic_ = BelowPanicThreshold(health_, options_.panic_threshold) &&
           !(health_.up == 0 && AnyPickable(backup));
  if (const PeerInfo* p = NextOf(primary, primary_rr_, panic_, last_change, now_ms)) return p;
  return NextOf(backup, backup_rr_, /*in_panic=*/false, last_change, now_ms);
}

const PeerInfo* BalancerPick::NextOf(std::span<const PeerInfo> peers, SmoothWeighted& rr,
                                     bool in_panic, const LastChange& last_change, int64_t now_ms) {
  weights_.assign(peers.size(), 0);
  for (size_t i = 0; i < peers.size(); ++i) {
    const PeerInfo& p = peers[i];
    const bool held = p.admin == AdminState::kDown || p.admin == AdminState::kDrain;
    if (in_panic ? held : !p.pickable()) continue;
    double share = 1.0;
    if (options_.slow_start_ms > 0) {
      share = SlowStartWeight(p.down, last_change(p.backup, p.id), options_.slow_start_ms, now_ms);
    }
    weights_[i] = std::max<int64_t>(1, std::llround(share * kWeightScale));
  }
  const std::optional<size_t> i = rr.Next(weights_);
  return i ? &peers[*i] : nullptr;
}

}  // namespace upcheck
