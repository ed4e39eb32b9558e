#include "config/fleet_config.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <system_error>

#include <fmt/format.h>

#include "upcheck/peer_address.h"

namespace upcheck::config {
namespace {

constexpr size_t kMaxHostId = 255;
constexpr size_t kMaxPrefix = 64;

// host_id and prefix end up in Redis keys and values and in log lines: printable ASCII
// without spaces keeps every one of them a single word.
bool IsWord(std::string_view text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= ' ' || byte >= 0x7f) return false;
  }
  return true;
}

std::optional<std::string> HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return std::nullopt;
  return std::string(name);
}

void ReadRedis(TableReader& t, FleetConfig& fleet) {
  if (!t.Require("redis")) return;
  const std::optional<std::string> text = t.String("redis");
  if (!text) return;
  const Result<PeerAddress> address = ParsePeerAddress(*text);
  if (!address.ok()) {
    t.ErrorAt("redis", fmt::format("bad redis address {} (\"IPv4:port\", \"[IPv6]:port\" or "
                                   "\"unix:/path\", e.g. \"127.0.0.1:6379\")",
                                   Quote(*text)));
    return;
  }
  fleet.redis = PeerAddressName(*address);
}

void ReadHostId(TableReader& t, FleetConfig& fleet) {
  if (t.Get("host_id") == nullptr) {
    const std::optional<std::string> name = HostName();
    if (!name || name->empty() || !IsWord(*name)) {
      t.ErrorAtTable("cannot use the host name as host_id: set \"host_id\"");
      return;
    }
    fleet.host_id = *name;
    return;
  }
  const std::optional<std::string> id = t.String("host_id");
  if (!id) return;
  if (id->empty() || id->size() > kMaxHostId || !IsWord(*id)) {
    t.ErrorAt("host_id", fmt::format("bad host_id {} (1 to {} printable ASCII characters, "
                                     "without spaces)",
                                     Quote(*id), kMaxHostId));
    return;
  }
  fleet.host_id = *id;
}

}  // namespace

void ReadFleet(TableReader& root, std::optional<FleetConfig>& fleet) {
  const toml::table* table = root.Table("fleet");
  if (table == nullptr) return;
  TableReader t(*table, "fleet", root.diag());
  t.RejectUnknownKeys({"redis", "host_id", "prefix", "timeout", "password"});
  FleetConfig read;
  ReadRedis(t, read);
  ReadHostId(t, read);
  if (const std::optional<std::string> prefix = t.String("prefix")) {
    if (prefix->size() > kMaxPrefix || !IsWord(*prefix)) {
      t.ErrorAt("prefix", fmt::format("bad prefix {} (up to {} printable ASCII characters, "
                                      "without spaces)",
                                      Quote(*prefix), kMaxPrefix));
    } else {
      read.prefix = *prefix;
    }
  }
  if (const auto timeout = t.Integer("timeout", 1, kMaxFleetTimeoutMs)) {
    read.timeout_ms = *timeout;
  }
  if (const std::optional<std::string> password = t.String("password")) {
    if (password->empty()) {
      t.ErrorAt("password", "must not be empty (omit the key when Redis asks for none)");
    } else {
      read.password = *password;
    }
  }
  fleet = std::move(read);
}

std::string DumpFleet(const FleetConfig& fleet) {
  std::string out = "\n[fleet]\n";
  out += fmt::format("redis = {}\n", TomlString(fleet.redis));
  out += fmt::format("host_id = {}\n", TomlString(fleet.host_id));
  out += fmt::format("prefix = {}\n", TomlString(fleet.prefix));
  out += fmt::format("timeout = {}\n", fleet.timeout_ms);
  // --test prints the dump: a secret stays out of terminals and logs.
  if (fleet.password) out += "# password = (set, not shown)\n";
  return out;
}

}  // namespace upcheck::config
