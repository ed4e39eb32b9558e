// RoundRobin: the pick cursor over one peer list (primary or backup) of one upstream.
//
// Part of an Upstreams view; same thread rules. It keeps the ids of the pickable peers and
// rebuilds that list lazily after Invalidate(), so a pick costs O(1) amortised however many
// peers are down. The cursor follows peer ids, not positions in the up list, so peers
// going down or up do not make it skip or repeat the others.
#ifndef UPCHECK_UPSTREAM_ROUND_ROBIN_H_
#define UPCHECK_UPSTREAM_ROUND_ROBIN_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_UPSTREAM)
#error "upstream/round_robin.h belongs to upstream/, a layer above (see lib/meson.build)"
#endif

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "upcheck/upstreams.h"

namespace upcheck {

class RoundRobin {
 public:
  // Call when a peer of the list changed whether it may be picked (PeerInfo::pickable).
  void Invalidate() { stale_ = true; }

  // The id of the first up peer after the last one picked (wrapping), or nullopt when
  // no peer may be picked. A fresh cursor starts at id 0. `peers` is the list this cursor
  // belongs to; it must be the same list at every call (ids are positions in it).
  std::optional<uint32_t> Next(std::span<const PeerInfo> peers);

 private:
  void Rebuild(std::span<const PeerInfo> peers);

  std::vector<uint32_t> up_;  // ids of the up peers, ascending
  size_t next_ = 0;           // position in up_ of the next pick
  std::optional<uint32_t> last_;
  bool stale_ = true;
};

}  // namespace upcheck

#endif  // UPCHECK_UPSTREAM_ROUND_ROBIN_H_
