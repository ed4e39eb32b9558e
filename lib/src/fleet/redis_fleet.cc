#include "fleet/redis_fleet.h"

#include <charconv>
#include <utility>

#include <fmt/format.h>

#include "util/clock.h"

namespace upcheck::fleet {

std::string FleetKeys::Lock(std::string_view u) const { return fmt::format("{}l:{}", prefix, u); }
std::string FleetKeys::Version(std::string_view u) const {
  return fmt::format("{}v:{}", prefix, u);
}
std::string FleetKeys::Down(std::string_view u, std::string_view a) const {
  return fmt::format("{}d:{}:{}", prefix, u, a);
}
std::string FleetKeys::Ok(std::string_view u, std::string_view a) const {
  return fmt::format("{}ok:{}:{}", prefix, u, a);
}
std::string FleetKeys::Nok(std::string_view u, std::string_view a) const {
  return fmt::format("{}nok:{}:{}", prefix, u, a);
}
std::string FleetKeys::Hosts() const { return prefix + "hosts"; }

namespace {

// A number Redis keeps as a string; nullopt for nil or anything else.
std::optional<double> Number(const RedisReply& r) {
  if (r.kind == RedisReply::Kind::kInteger) return static_cast<double>(r.integer);
  if (r.kind != RedisReply::Kind::kString) return std::nullopt;
  double v = 0;
  const char* end = r.text.data() + r.text.size();
  auto [ptr, ec] = std::from_chars(r.text.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

std::string Text(double v) { return fmt::format("{}", v); }

constexpr char kHoldScript[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";

}  // namespace

Result<std::unique_ptr<RedisFleet>> RedisFleet::Create(uv_loop_t* loop, const FleetConfig& config) {
  using R = Result<std::unique_ptr<RedisFleet>>;
  Result<std::unique_ptr<RedisClient>> client = RedisClient::Create(
      loop,
      {.address = config.redis, .timeout_ms = config.timeout_ms, .password = config.password});
  if (!client.ok()) return R::Error(client.error());
  return std::unique_ptr<RedisFleet>(new RedisFleet(std::move(*client), config));
}

RedisFleet::RedisFleet(std::unique_ptr<RedisClient> client, const FleetConfig& config)
    : client_(std::move(client)), keys_{config.prefix}, host_id_(config.host_id) {}

const RedisFleet::UpstreamKeys& RedisFleet::KeysOf(std::string_view upstream,
                                                   const std::vector<std::string>& peers) {
  auto it = upstream_keys_.find(upstream);
  if (it != upstream_keys_.end() && it->second.down.size() == peers.size()) return it->second;
  UpstreamKeys k;
  k.version = keys_.Version(upstream);
  k.mget = {"MGET", k.version};
  for (const std::string& a : peers) {
    k.down.push_back(keys_.Down(upstream, a));
    k.ok.push_back(keys_.Ok(upstream, a));
    k.nok.push_back(keys_.Nok(upstream, a));
    k.mget.insert(k.mget.end(), {k.down.back(), k.ok.back(), k.nok.back()});
  }
  return upstream_keys_.insert_or_assign(std::string(upstream), std::move(k)).first->second;
}

void RedisFleet::BeginCycle(std::string_view upstream, int64_t lock_ttl_ms, int64_t hold_ms,
                            std::function<void(FleetCycle)> done) {
  const std::string lock = keys_.Lock(upstream);
  const std::string ttl = std::to_string(std::max<int64_t>(lock_ttl_ms, 1));
  // After the SET, only the holder extends (the check and the PEXPIRE are one step on
  // the server). Its answer is not the cycle's: a Redis without scripting still makes a
  // fleet, only one whose lock changes hands more often. MGET, not GET, of the version: a
  // version key of another type reads as none, which the winner then writes over.
  enum : size_t { kSet, kHold, kGet, kPttl, kVersion };
  std::vector<std::vector<std::string>> commands = {
      {"SET", lock, host_id_, "NX", "PX", ttl},
      {"EVAL", kHoldScript, "1", lock, host_id_, std::to_string(std::max<int64_t>(hold_ms, 1))},
      {"GET", lock},
      {"PTTL", lock},
      {"MGET", keys_.Version(upstream)},
  };
  if (const int64_t now = UnixMs(); now - hosts_written_ms_ >= 1000) {
    hosts_written_ms_ = now;
    commands.push_back({"HSET", keys_.Hosts(), host_id_, std::to_string(now)});
  }
  auto finish = [this, lock, ttl, done = std::move(done)](RedisClient::Replies r) {
    FleetCycle c;
    for (size_t i = 0; i < r.size(); ++i) {
      if (i != kHold && !r[i].ok()) {
        c.error = r[i].error();
        return done(std::move(c));
      }
    }
    const RedisReply& set = *r[kSet];
    const RedisReply& holder = *r[kGet];
    const RedisReply& pttl = *r[kPttl];
    const RedisReply& version = *r[kVersion];
    const bool set_it = set.kind == RedisReply::Kind::kStatus && set.text == "OK";
    if ((!set_it && set.kind != RedisReply::Kind::kNil) ||
        version.kind != RedisReply::Kind::kArray || version.elements.size() != 1) {
      c.error = "redis: unexpected reply to the cycle's commands";
      return done(std::move(c));
    }
    c.holder = holder.kind == RedisReply::Kind::kString ? holder.text : std::string();
    c.kept = !set_it && c.holder == host_id_;
    c.role = set_it || c.kept ? FleetRole::kWinner : FleetRole::kFollower;
    // A lock someone set without a TTL would keep every host a follower for good.
    if (c.role == FleetRole::kFollower && pttl.kind == RedisReply::Kind::kInteger &&
        pttl.integer == -1) {
      client_->Command({"PEXPIRE", lock, ttl}, [](const Result<RedisReply>&) {});
    }
    if (c.role == FleetRole::kWinner && pttl.kind == RedisReply::Kind::kInteger) {
      c.lock_ttl_ms = pttl.integer;
    }
    c.version = Number(version.elements[0]);
    done(std::move(c));
  };
  client_->Pipeline(commands, std::move(finish));
}

void RedisFleet::ReadPeers(std::string_view upstream, const std::vector<std::string>& peers,
                           std::function<void(Result<FleetSnapshot>)> done) {
  const UpstreamKeys& keys = KeysOf(upstream, peers);
  client_->Command(
      keys.mget, [done = std::move(done), n = peers.size()](const Result<RedisReply>& reply) {
        if (!reply.ok()) return done(reply.status());
        const RedisReply& values = *reply;
        if (values.kind != RedisReply::Kind::kArray || values.elements.size() != 1 + 3 * n) {
          return done(Status::Error("redis: unexpected reply to MGET"));
        }
        FleetSnapshot s;
        s.version = Number(values.elements[0]);
        s.peers.resize(n);
        for (size_t i = 0; i < n; ++i) {
          const RedisReply& d = values.elements[1 + 3 * i];
          s.peers[i].down = d.kind != RedisReply::Kind::kNil && d.text != "0";
          s.peers[i].ok = Number(values.elements[2 + 3 * i]);
          s.peers[i].nok = Number(values.elements[3 + 3 * i]);
        }
        done(std::move(s));
      });
}

void RedisFleet::Publish(std::string_view upstream, const std::vector<std::string>& peers,
                         const std::vector<FleetPeerState>& states, bool bump,
                         std::optional<double> set_version,
                         std::function<void(Result<std::optional<double>>)> done) {
  const UpstreamKeys& keys = KeysOf(upstream, peers);
  std::vector<std::vector<std::string>> commands;
  std::vector<std::string> mset{"MSET"};
  std::vector<std::string> del{"DEL"};
  for (size_t i = 0; i < peers.size() && i < states.size(); ++i) {
    const FleetPeerState& s = states[i];
    if (s.ok) mset.insert(mset.end(), {keys.ok[i], Text(*s.ok)});
    if (s.nok) mset.insert(mset.end(), {keys.nok[i], Text(*s.nok)});
    if (s.down) {
      mset.insert(mset.end(), {keys.down[i], "1"});
    } else {
      del.push_back(keys.down[i]);
    }
  }
  if (mset.size() > 1) commands.push_back(std::move(mset));
  if (del.size() > 1) commands.push_back(std::move(del));
  const bool moves = bump || set_version.has_value();
  if (set_version) {
    commands.push_back({"SET", keys.version, Text(*set_version)});
  } else if (bump) {
    commands.push_back({"INCR", keys.version});
  }
  if (commands.empty()) {
    client_->Command({"PING"}, [done = std::move(done)](const Result<RedisReply>& r) {
      if (!r.ok()) return done(r.status());
      done(std::optional<double>());
    });
    return;
  }
  auto finish = [done = std::move(done), moves, set_version](RedisClient::Replies r) {
    for (const Result<RedisReply>& reply : r) {
      if (!reply.ok()) return done(reply.status());
    }
    if (!moves) return done(std::optional<double>());
    if (set_version) return done(set_version);
    const RedisReply& incr = *r.back();
    if (incr.kind != RedisReply::Kind::kInteger) {
      return done(Status::Error("redis: unexpected reply to INCR"));
    }
    done(std::optional<double>(static_cast<double>(incr.integer)));
  };
  client_->Pipeline(commands, std::move(finish));
}

}  // namespace upcheck::fleet

namespace upcheck {

Result<std::unique_ptr<FleetTier>> CreateRedisFleet(uv_loop_s* loop, const FleetConfig& config) {
  Result<std::unique_ptr<fleet::RedisFleet>> tier = fleet::RedisFleet::Create(loop, config);
  if (!tier.ok()) return tier.status();
  return std::unique_ptr<FleetTier>(std::move(*tier));
}

}  // namespace upcheck
