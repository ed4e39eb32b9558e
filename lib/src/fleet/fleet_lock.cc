#include "fleet/fleet_lock.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace upcheck::fleet {

std::string FleetLock::Key(std::string_view upstream) const {
  return fmt::format("{}l:{}", prefix_, upstream);
}

void FleetLock::TryLock(std::string_view upstream, int64_t ttl_ms,
                        std::function<void(FleetLockResult)> done) {
  const int64_t ttl = std::max<int64_t>(ttl_ms, 1);
  client_.Command(
      {"SET", Key(upstream), host_id_, "NX", "PX", std::to_string(ttl)},
      [this, done = std::move(done)](const Result<RedisReply>& reply) { done(Judge(reply)); });
}

// SET ... NX answers OK when it set the key and nil when the key exists; anything else
// (an error, or a reply SET never gives) means Redis cannot be trusted this cycle.
FleetLockResult FleetLock::Judge(const Result<RedisReply>& reply) {
  FleetLockResult result;
  if (reply.ok() && reply->kind == RedisReply::Kind::kStatus && reply->text == "OK") {
    result.outcome = FleetLockOutcome::kWon;
  } else if (reply.ok() && reply->kind == RedisReply::Kind::kNil) {
    result.outcome = FleetLockOutcome::kHeld;
  } else {
    result.outcome = FleetLockOutcome::kAlone;
    result.error = reply.ok() ? "redis: unexpected reply to SET NX" : reply.error();
    result.fell_back = !alone_;
    alone_ = true;
    ++fallbacks_;
    return result;
  }
  result.rejoined = alone_;
  alone_ = false;
  return result;
}

}  // namespace upcheck::fleet
