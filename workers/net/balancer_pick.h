// BalancerPick: how upcheckd's balancer chooses a peer once slow_start or panic_threshold
// is set (DESIGN §10). Smooth weighted round-robin, as nginx's, over the pickable primary
// peers, else the pickable backups; a peer the checks turned up less than slow_start ago
// weighs SlowStartWeight(). In panic (fewer than panic_threshold percent of the primaries
// up, unless none is and a backup is) it picks among every primary that no operator holds
// down or drains. Pure: the clock and the peers' last changes are passed in. Loop thread.
#ifndef UPCHECK_WORKERS_NET_BALANCER_PICK_H_
#define UPCHECK_WORKERS_NET_BALANCER_PICK_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "upcheck/internal/registry.h"
#include "upcheck/upstreams.h"

namespace upcheck {

struct BalancerPickOptions {
  int64_t slow_start_ms = 0;     // 0: off
  uint32_t panic_threshold = 0;  // percent; 0: off
};

// Smooth weighted round-robin over one list (nginx's ngx_http_upstream_get_peer): each
// pick adds every candidate's weight to its credit and takes the richest, who pays the
// total. Equal weights give 0, 1, 2, ...; weights 2:1 give two picks to one.
class SmoothWeighted {
 public:
  // weights[i] is entry i's weight, 0 for not a candidate (its credit is cleared). The
  // index picked, or nullopt when every weight is 0.
  std::optional<size_t> Next(std::span<const int64_t> weights);

 private:
  std::vector<int64_t> credit_;
};

class BalancerPick {
 public:
  // A peer's last transition, Unix ms (0: none since start-up).
  using LastChange = std::function<int64_t(bool backup, uint32_t id)>;

  explicit BalancerPick(BalancerPickOptions options) : options_(options) {}

  // The peer to connect to, or nullptr when none may be picked. The pointer is into
  // `primary` or `backup`. `now_ms` is Unix ms, like the last changes.
  const PeerInfo* Next(std::span<const PeerInfo> primary, std::span<const PeerInfo> backup,
                       const LastChange& last_change, int64_t now_ms);

  // What the last Next() found.
  bool panic() const { return panic_; }
  PrimaryHealth health() const { return health_; }

 private:
  const PeerInfo* NextOf(std::span<const PeerInfo> peers, SmoothWeighted& rr, bool in_panic,
                         const LastChange& last_change, int64_t now_ms);

  BalancerPickOptions options_;
  SmoothWeighted primary_rr_, backup_rr_;
  std::vector<int64_t> weights_;  // scratch, reused by every pick
  bool panic_ = false;
  PrimaryHealth health_;
};

}  // namespace upcheck

#endif  // UPCHECK_WORKERS_NET_BALANCER_PICK_H_
