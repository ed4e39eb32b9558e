// RedisFleet: the fleet tier over one Redis connection (DESIGN §11), the FleetTier a
// worker's checkers share. Keys, with P the prefix, u the upstream, a a peer's address:
//   P l:u  the fleet lock (the holder's host id, PX the cycle)   P v:u   the fleet version
//   P d:u:a  "1" while a is down (no key: up)   P ok:u:a, P nok:u:a  the streaks
//   P hosts  a hash: host id -> when it last asked (Unix ms), for `upcheck-shmctl fleet`
// A cycle's start is one round trip of five or six small pipelined commands (`hosts` is
// written once a second); reading every peer's keys (MGET) is one more, only when the fleet
// moved or the lock changed hands; a publish, only when a peer's state moved, one more.
// Loop thread only; the process must ignore SIGPIPE (RedisClient).
#ifndef UPCHECK_FLEET_REDIS_FLEET_H_
#define UPCHECK_FLEET_REDIS_FLEET_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_FLEET)
#error "fleet/redis_fleet.h belongs to fleet/, a layer above (see lib/meson.build)"
#endif

#include <map>
#include <memory>
#include <string>

#include "fleet/redis_client.h"
#include "upcheck/internal/fleet_tier.h"

namespace upcheck::fleet {

// The Redis key names, for the tier and for the tools that read them.
struct FleetKeys {
  std::string prefix;
  std::string Lock(std::string_view upstream) const;
  std::string Version(std::string_view upstream) const;
  std::string Down(std::string_view upstream, std::string_view peer) const;
  std::string Ok(std::string_view upstream, std::string_view peer) const;
  std::string Nok(std::string_view upstream, std::string_view peer) const;
  std::string Hosts() const;
};

class RedisFleet final : public FleetTier {
 public:
  // Error: RedisClient::Create's (a bad address or timeout). Connects at the first cycle.
  static Result<std::unique_ptr<RedisFleet>> Create(uv_loop_t* loop, const FleetConfig& config);

  const std::string& host_id() const override { return host_id_; }
  void BeginCycle(std::string_view upstream, int64_t lock_ttl_ms, int64_t hold_ms,
                  std::function<void(FleetCycle)> done) override;
  void ReadPeers(std::string_view upstream, const std::vector<std::string>& peers,
                 std::function<void(Result<FleetSnapshot>)> done) override;
  void Publish(std::string_view upstream, const std::vector<std::string>& peers,
               const std::vector<FleetPeerState>& states, bool bump,
               std::optional<double> set_version,
               std::function<void(Result<std::optional<double>>)> done) override;

 private:
  // An upstream's version and peer key names, made at its first read or publish, which
  // then format no key again.
  struct UpstreamKeys {
    std::string version;
    std::vector<std::string> mget;  // "MGET", version, then d:, ok:, nok: of each peer
    std::vector<std::string> down, ok, nok;
  };
  RedisFleet(std::unique_ptr<RedisClient> client, const FleetConfig& config);
  const UpstreamKeys& KeysOf(std::string_view upstream, const std::vector<std::string>& peers);

  std::unique_ptr<RedisClient> client_;
  FleetKeys keys_;
  std::string host_id_;
  std::map<std::string, UpstreamKeys, std::less<>> upstream_keys_;
  int64_t hosts_written_ms_ = 0;  // the last HSET of `hosts`: at most one a second
};

}  // namespace upcheck::fleet

#endif  // UPCHECK_FLEET_REDIS_FLEET_H_
