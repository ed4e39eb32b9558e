#include "upcheck/fleet_words.h"

#include <unistd.h>

#include <charconv>
#include <climits>
#include <optional>
#include <set>
#include <string>

#include "upcheck/peer_address.h"

namespace upcheck {
namespace {

// As the [fleet] table's limits (lib/src/config/fleet_config.cc).
constexpr size_t kMaxHostId = 255;
constexpr size_t kMaxPrefix = 64;

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// host_id and prefix end up in Redis keys and values and in log lines: printable ASCII
// without spaces keeps every one of them a single word.
bool IsWord(std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= ' ' || byte >= 0x7f) return false;
  }
  return true;
}

Status SetRedis(FleetConfig& f, std::string_view value) {
  const Result<PeerAddress> address = ParsePeerAddress(value);
  if (!address.ok()) {
    return Status::Error("bad redis address " + Quoted(value) +
                         ": expected \"IPv4:port\", \"[IPv6]:port\" or \"unix:/path\", e.g. "
                         "\"127.0.0.1:6379\"");
  }
  f.redis = PeerAddressName(*address);
  return Status::Ok();
}

Status SetHostId(FleetConfig& f, std::string_view value) {
  if (value.empty() || value.size() > kMaxHostId || !IsWord(value)) {
    return Status::Error("bad host_id " + Quoted(value) + ": 1 to " + std::to_string(kMaxHostId) +
                         " printable ASCII characters, without spaces");
  }
  f.host_id = std::string(value);
  return Status::Ok();
}

Status SetPrefix(FleetConfig& f, std::string_view value) {
  if (value.size() > kMaxPrefix || !IsWord(value)) {
    return Status::Error("bad prefix " + Quoted(value) + ": up to " + std::to_string(kMaxPrefix) +
                         " printable ASCII characters, without spaces");
  }
  f.prefix = std::string(value);
  return Status::Ok();
}

Status SetTimeout(FleetConfig& f, std::string_view value) {
  int64_t ms = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, ms);
  if (value.empty() || ec != std::errc() || ptr != end || ms < 1 || ms > kMaxFleetTimeoutMs) {
    return Status::Error("timeout must be 1.." + std::to_string(kMaxFleetTimeoutMs) + " ms, got " +
                         Quoted(value));
  }
  f.timeout_ms = ms;
  return Status::Ok();
}

Status SetPassword(FleetConfig& f, std::string_view value) {
  if (value.empty()) {
    return Status::Error("password must not be empty (leave it out when Redis asks for none)");
  }
  f.password = std::string(value);
  return Status::Ok();
}

Status SetWord(FleetConfig& f, std::string_view key, std::string_view value) {
  if (key == "redis") return SetRedis(f, value);
  if (key == "host_id") return SetHostId(f, value);
  if (key == "prefix") return SetPrefix(f, value);
  if (key == "timeout") return SetTimeout(f, value);
  if (key == "password") return SetPassword(f, value);
  return Status::Error("unknown option " + Quoted(key) +
                       " (expected redis, host_id, prefix, timeout or password)");
}

// The machine's name, as the [fleet] table defaults host_id; nullopt when it cannot be one.
std::optional<std::string> HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return std::nullopt;
  const std::string host(name);
  if (host.empty() || host.size() > kMaxHostId || !IsWord(host)) return std::nullopt;
  return host;
}

}  // namespace

Result<FleetConfig> ParseFleetWords(std::span<const std::string_view> words) {
  FleetConfig fleet;
  std::set<std::string_view> seen;
  for (const std::string_view word : words) {
    const size_t eq = word.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Result<FleetConfig>::Error("expected key=value, got " + Quoted(word));
    }
    const std::string_view key = word.substr(0, eq);
    if (!seen.insert(key).second) {
      return Result<FleetConfig>::Error("option " + Quoted(key) + " given twice");
    }
    if (Status st = SetWord(fleet, key, word.substr(eq + 1)); !st) return st;
  }
  if (!seen.contains("redis")) {
    return Result<FleetConfig>::Error("redis=ADDRESS is required (e.g. redis=127.0.0.1:6379)");
  }
  if (!seen.contains("host_id")) {
    const std::optional<std::string> host = HostName();
    if (!host) {
      return Result<FleetConfig>::Error("cannot use the host name as host_id: set host_id=");
    }
    fleet.host_id = *host;
  }
  return fleet;
}

}  // namespace upcheck
