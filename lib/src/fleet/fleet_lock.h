// FleetLock: the fleet tier's lock (DESIGN §11), `SET <prefix>l:<upstream> <host_id> NX PX
// <ttl>`, taken by a host's local lock winner. Any Redis failure (refused, slow, a wrong
// password, a key of the wrong type) comes back as kAlone: the host probes on its own this
// cycle. It reports the edges into and out of that state, so the caller logs each once.
// The loop's thread only, as its RedisClient; `client` must outlive it.
#ifndef UPCHECK_FLEET_FLEET_LOCK_H_
#define UPCHECK_FLEET_FLEET_LOCK_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_FLEET)
#error "fleet/fleet_lock.h belongs to fleet/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "fleet/redis_client.h"

namespace upcheck::fleet {

enum class FleetLockOutcome : uint8_t {
  kWon,    // this host probes for the fleet this cycle
  kHeld,   // another host does: copy its results instead
  kAlone,  // Redis failed: probe locally, as without [fleet]
};

struct FleetLockResult {
  FleetLockOutcome outcome = FleetLockOutcome::kAlone;
  std::string error;       // kAlone: the Redis client's error
  bool fell_back = false;  // the first kAlone after an answer (or the first try): warn once
  bool rejoined = false;   // the first answer after kAlone: log once
};

class FleetLock {
 public:
  FleetLock(RedisClient& client, std::string prefix, std::string host_id)
      : client_(client), prefix_(std::move(prefix)), host_id_(std::move(host_id)) {}
  FleetLock(const FleetLock&) = delete;
  FleetLock& operator=(const FleetLock&) = delete;

  // `ttl_ms` below 1 is taken as 1 (Redis refuses PX 0). `done` runs once, from the loop.
  // REQUIRES: `this` outlives the call, or the client is destroyed first (no callback).
  void TryLock(std::string_view upstream, int64_t ttl_ms,
               std::function<void(FleetLockResult)> done);

  std::string Key(std::string_view upstream) const;  // "<prefix>l:<upstream>"
  // Cycles that fell back to probing alone: upcheck_fleet_fallback_total for this host.
  uint64_t fallbacks() const { return fallbacks_; }
  bool alone() const { return alone_; }

 private:
  FleetLockResult Judge(const Result<RedisReply>& reply);

  RedisClient& client_;
  std::string prefix_;
  std::string host_id_;
  bool alone_ = false;
  uint64_t fallbacks_ = 0;
};

}  // namespace upcheck::fleet

#endif  // UPCHECK_FLEET_FLEET_LOCK_H_
