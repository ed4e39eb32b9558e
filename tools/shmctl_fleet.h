// upcheck-shmctl fleet: this host's place in its fleet (DESIGN §11) per checked upstream,
// from the segment alone (the registry's role, fleet version and fallbacks, the lock
// holder last seen in the dict's fh:<upstream>, the local version); with --redis, also
// what Redis holds (fleet_redis_view.h). Arguments are checked before anything is read.
// A Redis that cannot be read is an error returned after the segment's part is printed.
// Same conventions as shmctl_commands.h.
#ifndef UPCHECK_TOOLS_SHMCTL_FLEET_H_
#define UPCHECK_TOOLS_SHMCTL_FLEET_H_

#include <optional>
#include <ostream>
#include <string>

#include "upcheck/segment.h"
#include "upcheck/status.h"

namespace upcheck::shmctl {

struct FleetArgs {
  std::optional<std::string> upstream;
  std::optional<std::string> redis;         // an address as [fleet] redis
  std::optional<std::string> prefix;        // default "upcheck:"
  std::optional<std::string> password_env;  // the environment variable holding the password
  bool json = false;
};

// Text: UPSTREAM<TAB>ROLE<TAB>VERSION<TAB>LOCAL<TAB>FALLBACKS<TAB>HOLDER with a header
// line; with --redis a blank line, "redis ADDR", UPSTREAM<TAB>HOLDER<TAB>PTTL_MS<TAB>VERSION
// and HOST<TAB>AGE_S tables. --json: one object {"upstreams":[...],"redis":{...}}.
// Errors: an unknown or unchecked upstream, a bad --redis or --password-env, Redis.
Status RunFleet(Segment& segment, const FleetArgs& args, std::ostream& out);

}  // namespace upcheck::shmctl

#endif  // UPCHECK_TOOLS_SHMCTL_FLEET_H_
