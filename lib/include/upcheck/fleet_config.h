// FleetConfig: where the hosts of a fleet meet and as whom (DESIGN §11), as upcheckd's
// [fleet] table and the nginx module's upcheck_fleet words give it, and as the fleet tier
// takes it. Plain data: the parsers check it, the tier connects with it.
#ifndef UPCHECK_FLEET_CONFIG_H_
#define UPCHECK_FLEET_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>

namespace upcheck {

inline constexpr int64_t kDefaultFleetTimeoutMs = 200;
inline constexpr int64_t kMaxFleetTimeoutMs = 60000;

struct FleetConfig {
  std::string redis;                // "ipv4:port", "[ipv6]:port" or "unix:/path", canonical
  std::string host_id;              // default: gethostname()
  std::string prefix = "upcheck:";  // of every Redis key
  int64_t timeout_ms = kDefaultFleetTimeoutMs;  // per Redis round trip, 1..kMaxFleetTimeoutMs
  std::optional<std::string> password;          // sent with AUTH after each connect
};

}  // namespace upcheck

#endif  // UPCHECK_FLEET_CONFIG_H_
