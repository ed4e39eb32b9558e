#include "upstream/round_robin.h"

#include <algorithm>

namespace upcheck {

std::optional<uint32_t> RoundRobin::Next(std::span<const PeerInfo> peers) {
  if (stale_) Rebuild(peers);
  if (up_.empty()) return std::nullopt;
  if (next_ >= up_.size()) next_ = 0;
  const uint32_t id = up_[next_++];
  last_ = id;
  return id;
}

void RoundRobin::Rebuild(std::span<const PeerInfo> peers) {
  up_.clear();
  up_.reserve(peers.size());
  for (const PeerInfo& peer : peers) {
    if (peer.pickable()) up_.push_back(peer.id);
  }
  // Resume after the last peer picked, as if the cursor had walked the full list.
  next_ = last_
              ? static_cast<size_t>(std::upper_bound(up_.begin(), up_.end(), *last_) - up_.begin())
              : 0;
  stale_ = false;
}

}  // namespace upcheck
