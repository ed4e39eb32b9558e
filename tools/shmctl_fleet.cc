#include "shmctl_fleet.h"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "fleet_redis_view.h"
#include "upcheck/internal/registry.h"
#include "upcheck/protocol_keys.h"

namespace upcheck::shmctl {
namespace {

// Keys in the order the help lists them.
using json = nlohmann::ordered_json;

// One checked upstream as this host's segment sees it.
struct SegmentRow {
  std::string upstream;
  FleetRole role = FleetRole::kNone;
  double version = 0;  // the fleet version this host holds; 0: none yet
  double local_version = 0;
  uint64_t fallbacks = 0;
  std::optional<std::string> holder;  // fh:<upstream>: the lock holder last seen
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --redis, --prefix and --password-env as a target; nullopt without --redis.
Result<std::optional<RedisTarget>> ParseTarget(const FleetArgs& args) {
  using R = Result<std::optional<RedisTarget>>;
  if (!args.redis) return std::optional<RedisTarget>();
  Result<PeerAddress> address = ParseRedisArg(*args.redis);
  if (!address.ok()) return address.status();
  RedisTarget target{*address, args.prefix.value_or("upcheck:"), std::nullopt};
  if (args.password_env) {
    // One thread, and nothing sets the environment.
    const char* password =
        std::getenv(args.password_env->c_str());  // NOLINT(concurrency-mt-unsafe)
    if (password == nullptr || *password == '\0') {
      return R::Error(fmt::format("--password-env: ${} is not set or empty",
                                  cli::EscapeForLine(*args.password_env)));
    }
    target.password = password;
  }
  return std::optional<RedisTarget>(std::move(target));
}

// The upstreams to show: the one named (it must have a check), else every checked one.
Result<std::vector<size_t>> Chosen(const Registry& registry, const FleetArgs& args) {
  using R = Result<std::vector<size_t>>;
  std::vector<size_t> list;
  if (args.upstream) {
    const std::optional<size_t> u = registry.FindUpstream(*args.upstream);
    const std::string name = cli::EscapeForLine(*args.upstream);
    if (!u) return R::Error(fmt::format("upstream \"{}\" not found", name));
    if (!registry.has_check(*u)) {
      return R::Error(fmt::format("upstream \"{}\" has no check: no fleet probes it", name));
    }
    list.push_back(*u);
    return list;
  }
  for (size_t u = 0; u < registry.upstream_count(); ++u) {
    if (registry.has_check(u)) list.push_back(u);
  }
  return list;
}

SegmentRow ReadRow(const Registry& registry, SharedDict& dict, size_t u) {
  SegmentRow row;
  row.upstream = std::string(registry.upstream_name(u));
  row.role = registry.fleet_role(u);
  row.version = registry.fleet_version(u);
  row.local_version = registry.published_version(u);
  row.fallbacks = registry.fleet_fallbacks(u);
  Result<std::optional<DictValue>> holder =
      dict.Get(UpstreamKey(KeyFamily::kFleetHolder, row.upstream));
  if (holder.ok() && holder->has_value()) {
    if (const auto* text = std::get_if<std::string>(&**holder)) row.holder = *text;
  }
  return row;
}

template <typename T>
json OrNull(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

json SegmentJson(const std::vector<SegmentRow>& rows) {
  json out = json::array();
  for (const SegmentRow& r : rows) {
    out.push_back({{"upstream", r.upstream},
                   {"role", FleetRoleName(r.role)},
                   {"version", cli::VersionJson(r.version)},
                   {"local_version", cli::VersionJson(r.local_version)},
                   {"fallbacks", r.fallbacks},
                   {"holder", OrNull(r.holder)}});
  }
  return out;
}

json RedisJson(const RedisTarget& target, const FleetRedisView& view, int64_t now_ms) {
  json upstreams = json::array();
  for (const RedisUpstream& u : view.upstreams) {
    upstreams.push_back({{"upstream", u.upstream},
                         {"holder", OrNull(u.holder)},
                         {"lock_pttl_ms", OrNull(u.lock_pttl_ms)},
                         {"version", u.version ? cli::VersionJson(*u.version) : json(nullptr)}});
  }
  json hosts = json::array();
  for (const RedisHost& h : view.hosts) {
    hosts.push_back(
        {{"host_id", h.host_id}, {"age_s", static_cast<double>(now_ms - h.last_seen_ms) / 1000}});
  }
  return {{"address", PeerAddressName(target.address)},
          {"prefix", target.prefix},
          {"upstreams", std::move(upstreams)},
          {"hosts", std::move(hosts)}};
}

// A version as the pages print it: "3", "2.5"; "-" for none.
std::string VersionText(std::optional<double> version) {
  return version ? fmt::format("{}", *version) : "-";
}

void PrintSegment(const std::vector<SegmentRow>& rows, std::ostream& out) {
  out << "UPSTREAM\tROLE\tVERSION\tLOCAL\tFALLBACKS\tHOLDER\n";
  for (const SegmentRow& r : rows) {
    out << cli::EscapeForLine(r.upstream) << '\t' << FleetRoleName(r.role) << '\t'
        << VersionText(r.version) << '\t' << VersionText(r.local_version) << '\t' << r.fallbacks
        << '\t' << (r.holder ? cli::EscapeForLine(*r.holder) : "-") << '\n';
  }
}

void PrintRedis(const RedisTarget& target, const FleetRedisView& view, int64_t now_ms,
                std::ostream& out) {
  out << "\nredis " << PeerAddressName(target.address) << '\n';
  out << "UPSTREAM\tHOLDER\tPTTL_MS\tVERSION\n";
  for (const RedisUpstream& u : view.upstreams) {
    out << cli::EscapeForLine(u.upstream) << '\t'
        << (u.holder ? cli::EscapeForLine(*u.holder) : "-") << '\t'
        << (u.lock_pttl_ms ? std::to_string(*u.lock_pttl_ms) : "-") << '\t'
        << VersionText(u.version) << '\n';
  }
  out << "HOST\tAGE_S\n";
  for (const RedisHost& h : view.hosts) {
    out << cli::EscapeForLine(h.host_id) << '\t'
        << fmt::format("{:.3f}", static_cast<double>(now_ms - h.last_seen_ms) / 1000) << '\n';
  }
}

}  // namespace

Status RunFleet(Segment& segment, const FleetArgs& args, std::ostream& out) {
  Result<std::optional<RedisTarget>> target = ParseTarget(args);
  if (!target.ok()) return target.status();
  Result<Registry> registry = Registry::Attach(segment);
  if (!registry.ok()) return registry.status();
  Result<std::vector<size_t>> upstreams = Chosen(*registry, args);
  if (!upstreams.ok()) return upstreams.status();
  std::vector<SegmentRow> rows;
  std::vector<std::string> names;
  for (size_t u : *upstreams) {
    rows.push_back(ReadRow(*registry, segment.dict(), u));
    names.push_back(rows.back().upstream);
  }
  std::optional<Result<FleetRedisView>> redis;
  if (*target) redis = ReadFleetRedis(**target, names);
  const bool redis_ok = redis && redis->ok();
  const int64_t now = NowMs();
  if (args.json) {
    json doc = {{"upstreams", SegmentJson(rows)}};
    if (redis_ok) doc["redis"] = RedisJson(**target, **redis, now);
    out << doc.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
  } else {
    PrintSegment(rows, out);
    if (redis_ok) PrintRedis(**target, **redis, now, out);
  }
  if (redis && !redis->ok()) return redis->status();
  return Status::Ok();
}

}  // namespace upcheck::shmctl
