// FleetRedisView: what Redis itself holds of a fleet (DESIGN §11), read by
// `upcheck-shmctl fleet --redis` over one blocking hiredis connection: each upstream's lock
// holder, the lock's remaining TTL and the fleet version, and the hosts that have asked.
// The keys are the tier's (lib/src/fleet/redis_fleet.h): P l:u, P v:u, P hosts.
// Blocking, with a 1 s timeout per connect and per reply; any thread, one call at a time.
#ifndef UPCHECK_TOOLS_FLEET_REDIS_VIEW_H_
#define UPCHECK_TOOLS_FLEET_REDIS_VIEW_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "upcheck/peer_address.h"
#include "upcheck/status.h"

namespace upcheck::shmctl {

struct RedisTarget {
  PeerAddress address;                  // "ipv4:port", "[ipv6]:port" or "unix:/path"
  std::string prefix = "upcheck:";      // of every key, as [fleet] prefix
  std::optional<std::string> password;  // sent with AUTH first
};

struct RedisUpstream {
  std::string upstream;
  std::optional<std::string> holder;  // the lock's value: a host id; nullopt: nobody holds it
  std::optional<int64_t> lock_pttl_ms;
  std::optional<double> version;  // nullopt: no version key (a new or flushed fleet)
};

struct RedisHost {
  std::string host_id;
  int64_t last_seen_ms = 0;  // Unix ms, as the host wrote it
};

struct FleetRedisView {
  std::vector<RedisUpstream> upstreams;  // in the order asked
  std::vector<RedisHost> hosts;          // sorted by host id
};

// Parses --redis: an address as [fleet] redis takes it. Error names the argument.
Result<PeerAddress> ParseRedisArg(std::string_view text);

// Reads the view of `upstreams`. Errors: "redis ADDR: <what failed>" (connect, timeout,
// AUTH or a command refused).
Result<FleetRedisView> ReadFleetRedis(const RedisTarget& target,
                                      const std::vector<std::string>& upstreams);

}  // namespace upcheck::shmctl

#endif  // UPCHECK_TOOLS_FLEET_REDIS_VIEW_H_
