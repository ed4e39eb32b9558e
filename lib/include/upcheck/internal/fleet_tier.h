// Internal to this source tree; not installed.
// FleetTier: what a Checker asks of the fleet tier (DESIGN §11) once it holds its host's
// lock. Declared here, below the fleet layer that implements it over Redis, so that the
// checker needs no Redis: CheckerInternals::fleet points at one per process, shared by the
// process's checkers. Peers are named by their configured address, not by their id, so
// that hosts listing an upstream's peers in another order still agree.
// Loop thread only; every callback runs once, from the loop, never inside the call.
#ifndef UPCHECK_INTERNAL_FLEET_TIER_H_
#define UPCHECK_INTERNAL_FLEET_TIER_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CHECK)
#error "upcheck/internal/fleet_tier.h belongs to check/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "upcheck/check_event.h"
#include "upcheck/fleet_config.h"
#include "upcheck/status.h"

struct uv_loop_s;

namespace upcheck {

// One peer's shared state as the fleet keeps it.
struct FleetPeerState {
  bool down = false;
  std::optional<double> ok;   // the success streak, when the fleet has one
  std::optional<double> nok;  // the failure streak
};

// What the fleet said at the start of a cycle.
struct FleetCycle {
  FleetRole role = FleetRole::kAlone;
  // The fleet's version of the upstream; nullopt when Redis has none (a new fleet, or a
  // flushed Redis): its flags then say nothing, and the winner republishes its own view.
  std::optional<double> version;
  std::string holder;  // the host holding the fleet lock (ours if kWinner)
  // kWinner: the lock was this host's already, so no other host has written since this
  // host's last publish.
  bool kept = false;
  // kWinner: how long the lock stays this host's, from when Redis answered (its PTTL).
  int64_t lock_ttl_ms = 0;
  std::string error;  // kAlone: what failed
};

// Every peer's state as the fleet has it, and its version, read at one instant.
struct FleetSnapshot {
  std::optional<double> version;
  std::vector<FleetPeerState> peers;  // in the order asked
};

class FleetTier {
 public:
  virtual ~FleetTier() = default;

  virtual const std::string& host_id() const = 0;
  // Tries the fleet lock of `upstream` for `lock_ttl_ms` and reads the fleet's version, in
  // one round trip. A lock this host already holds (its id in the key) is won again, and
  // a lock this host holds is then held for `hold_ms` from now: past the winner's next
  // start, so that no other host takes it in the gap between two of its cycles.
  virtual void BeginCycle(std::string_view upstream, int64_t lock_ttl_ms, int64_t hold_ms,
                          std::function<void(FleetCycle)> done) = 0;
  // The fleet's version and the state of `peers` (configured names), in one round trip:
  // what a cycle copies when the fleet moved or the lock changed hands.
  virtual void ReadPeers(std::string_view upstream, const std::vector<std::string>& peers,
                         std::function<void(Result<FleetSnapshot>)> done) = 0;
  // The winner's results: `states[i]` for `peers[i]` (those whose state moved: any subset),
  // written before the version moves. `bump`: a peer changed state, so the version moves
  // (INCR), or, with `set_version`, is set to it (after a flush, so that the version goes
  // on from where the hosts were). `done` gets the version the publish moved the fleet to
  // (nullopt: it did not), or the error.
  virtual void Publish(std::string_view upstream, const std::vector<std::string>& peers,
                       const std::vector<FleetPeerState>& states, bool bump,
                       std::optional<double> set_version,
                       std::function<void(Result<std::optional<double>>)> done) = 0;
};

// The tier over Redis (the fleet layer's RedisFleet), on `loop`; it connects at the first
// cycle. Error: a bad address or a timeout below 1 ms. The process must ignore SIGPIPE.
Result<std::unique_ptr<FleetTier>> CreateRedisFleet(uv_loop_s* loop, const FleetConfig& config);

}  // namespace upcheck

#endif  // UPCHECK_INTERNAL_FLEET_TIER_H_
