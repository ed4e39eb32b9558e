#include "fleet_redis_view.h"

#include <sys/time.h>

#include <algorithm>
#include <memory>
#include <string_view>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "cli_common.h"

namespace upcheck::shmctl {
namespace {

constexpr timeval kTimeout{1, 0};

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Context = std::unique_ptr<redisContext, ContextFree>;
using Reply = std::unique_ptr<redisReply, ReplyFree>;

// Reads one pipelined command's reply at a time and names the failures after the server.
class Session {
 public:
  Session(Context context, std::string name) : c_(std::move(context)), name_(std::move(name)) {}

  void Append(const std::vector<std::string>& words) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& w : words) {
      argv.push_back(w.data());
      lens.push_back(w.size());
    }
    redisAppendCommandArgv(c_.get(), static_cast<int>(argv.size()), argv.data(), lens.data());
  }

  // The next reply; an error reply is an error too.
  Result<Reply> Next() {
    void* raw = nullptr;
    if (redisGetReply(c_.get(), &raw) != REDIS_OK || raw == nullptr) {
      return Error(c_->errstr[0] != '\0' ? c_->errstr : "no reply");
    }
    Reply reply(static_cast<redisReply*>(raw));
    if (reply->type == REDIS_REPLY_ERROR) return Error(std::string(reply->str, reply->len));
    return reply;
  }

  Status Error(std::string_view what) const {
    return Status::Error(fmt::format("redis {}: {}", name_, cli::EscapeForLine(what)));
  }

 private:
  Context c_;
  std::string name_;
};

Result<Context> Connect(const PeerAddress& address, const std::string& name) {
  Context c(address.family == PeerAddress::Family::kUnix
                ? redisConnectUnixWithTimeout(address.host.c_str(), kTimeout)
                : redisConnectWithTimeout(address.host.c_str(), address.port, kTimeout));
  if (c == nullptr) return Result<Context>::Error(fmt::format("redis {}: out of memory", name));
  if (c->err != 0 || redisSetTimeout(c.get(), kTimeout) != REDIS_OK) {
    return Result<Context>::Error(fmt::format("redis {}: {}", name, c->errstr));
  }
  return c;
}

std::optional<std::string> Text(const redisReply& r) {
  if (r.type != REDIS_REPLY_STRING && r.type != REDIS_REPLY_STATUS) return std::nullopt;
  return std::string(r.str, r.len);
}

Result<RedisUpstream> ReadUpstream(Session& s, const std::string& upstream,
                                   const std::string& version_key) {
  RedisUpstream u{upstream, std::nullopt, std::nullopt, std::nullopt};
  Result<Reply> holder = s.Next();
  if (!holder.ok()) return holder.status();
  u.holder = Text(**holder);
  Result<Reply> pttl = s.Next();
  if (!pttl.ok()) return pttl.status();
  // -2: no lock, -1: a lock without expiry (not the tier's); neither has a TTL to show.
  if ((*pttl)->type == REDIS_REPLY_INTEGER && (*pttl)->integer >= 0) {
    u.lock_pttl_ms = (*pttl)->integer;
  }
  Result<Reply> version = s.Next();
  if (!version.ok()) return version.status();
  if (std::optional<std::string> text = Text(**version)) {
    u.version = cli::ParseFiniteNumber(*text);
    if (!u.version) {
      return s.Error(fmt::format("{} holds \"{}\", not a number", version_key, *text));
    }
  }
  return u;
}

// HGETALL's flat array of field, value pairs; values that are not Unix ms read as 0.
std::vector<RedisHost> Hosts(const redisReply& r) {
  std::vector<RedisHost> hosts;
  if (r.type != REDIS_REPLY_ARRAY) return hosts;
  for (size_t i = 0; i + 1 < r.elements; i += 2) {
    RedisHost h{Text(*r.element[i]).value_or(""), 0};
    const std::optional<double> ms = cli::ParseFiniteNumber(Text(*r.element[i + 1]).value_or(""));
    if (ms) h.last_seen_ms = static_cast<int64_t>(*ms);
    hosts.push_back(std::move(h));
  }
  std::sort(hosts.begin(), hosts.end(),
            [](const RedisHost& a, const RedisHost& b) { return a.host_id < b.host_id; });
  return hosts;
}

}  // namespace

Result<PeerAddress> ParseRedisArg(std::string_view text) {
  Result<PeerAddress> address = ParsePeerAddress(text);
  if (address.ok()) return address;
  return Result<PeerAddress>::Error(
      fmt::format("--redis: bad address \"{}\" (\"IPv4:port\", \"[IPv6]:port\" or "
                  "\"unix:/path\", as [fleet] redis)",
                  cli::EscapeForLine(text)));
}

Result<FleetRedisView> ReadFleetRedis(const RedisTarget& target,
                                      const std::vector<std::string>& upstreams) {
  const std::string name = PeerAddressName(target.address);
  Result<Context> context = Connect(target.address, name);
  if (!context.ok()) return context.status();
  Session s(std::move(*context), name);
  if (target.password) s.Append({"AUTH", *target.password});
  for (const std::string& u : upstreams) {
    s.Append({"GET", target.prefix + "l:" + u});
    s.Append({"PTTL", target.prefix + "l:" + u});
    s.Append({"GET", target.prefix + "v:" + u});
  }
  s.Append({"HGETALL", target.prefix + "hosts"});
  if (target.password) {
    if (Result<Reply> auth = s.Next(); !auth.ok()) return auth.status();
  }
  FleetRedisView view;
  for (const std::string& u : upstreams) {
    Result<RedisUpstream> read = ReadUpstream(s, u, target.prefix + "v:" + u);
    if (!read.ok()) return read.status();
    view.upstreams.push_back(std::move(*read));
  }
  Result<Reply> hosts = s.Next();
  if (!hosts.ok()) return hosts.status();
  view.hosts = Hosts(**hosts);
  return view;
}

}  // namespace upcheck::shmctl
