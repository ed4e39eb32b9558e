// ParseConfig: upcheck.toml to Config. The shape of the file is DESIGN.md §4; each section
// has one reader below, and every reader reports all of its problems before giving up, so
// the user sees every mistake at once.
#include "upcheck/config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <system_error>
#include <thread>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "config/address.h"
#include "config/check_http.h"
#include "config/check_tls.h"
#include "config/fleet_config.h"
#include "config/toml_reader.h"
#include "config/upstream_balancing.h"
#include "probe/tls_options.h"
#include "upcheck/checker.h"

namespace upcheck {
namespace {

using config::Diagnostics;
using config::TableReader;

constexpr std::string_view kLogLevels[] = {"debug", "info", "notice", "warn", "error"};

// The original validates no numeric check option (protocol.md Q11): any interval, fall,
// rise and concurrency keeps its meaning, and only a negative timeout is refused (the Q11
// fix, in ValidateLikeSpawn). The one bound is on the times, where a value stops working:
// a timeout becomes a deadline in ns and an interval a dict expiry in ms, both int64, and
// 10^12 ms (about 31 years) keeps them clear of overflow (a timeout's at ~9.2 * 10^12 ms).
constexpr int64_t kMaxCheckMs = 1'000'000'000'000;
constexpr int64_t kMinInteger = std::numeric_limits<int64_t>::min();
constexpr size_t kMaxUpstreamName = 255;
constexpr int64_t kMaxShutdownTimeoutMs = 86'400'000;  // a day, in ms

bool IsShmName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

// Upstream names go verbatim into dict keys, log lines and (unescaped, as in the original)
// Prometheus labels, so only printable ASCII without spaces, quotes or backslashes.
bool IsUpstreamName(std::string_view name) {
  if (name.empty() || name.size() > kMaxUpstreamName) return false;
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= ' ' || byte >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

// A listen address, checked; remembers which key first used each host:port.
void ReadListen(TableReader& t, std::string_view key, std::optional<std::string>& out,
                std::map<std::string, std::string>& used) {
  const std::optional<std::string> text = t.String(key);
  if (!text) return;
  const Result<ListenAddress> address = ParseListenAddress(*text);
  if (!address) {
    t.ErrorAt(key, address.error());
    return;
  }
  if (address->port != 0) {
    const std::string endpoint = address->ipv6
                                     ? fmt::format("[{}]:{}", address->host, address->port)
                                     : fmt::format("{}:{}", address->host, address->port);
    const auto [it, inserted] = used.emplace(endpoint, t.PathOf(key));
    if (!inserted) {
      t.ErrorAt(key, fmt::format("{} is already used by {}", endpoint, it->second));
      return;
    }
  }
  out = *text;
}

// shm.size: an integer of bytes, or a ParseSize() string; kMinShmSize..kMaxShmSize.
std::optional<size_t> ReadShmSize(TableReader& t) {
  const toml::node* node = t.Get("size");
  if (node == nullptr) return std::nullopt;
  std::string shown;  // as written, for messages
  Result<size_t> bytes = Result<size_t>::Error("");
  if (const auto* i = node->as_integer()) {
    shown = fmt::format("{}", i->get());
    bytes = i->get() >= 0 ? Result<size_t>(static_cast<size_t>(i->get()))
                          : Result<size_t>::Error(fmt::format(
                                "bad size {} (bytes, or a number with k or m suffix)", shown));
  } else if (const auto* s = node->as_string()) {
    shown = config::Quote(s->get());
    bytes = ParseSize(s->get());
  } else {
    t.ErrorAt("size", fmt::format("expected a size (bytes, or a string such as \"512k\" or "
                                  "\"1m\"), got {}",
                                  config::Describe(*node)));
    return std::nullopt;
  }
  if (!bytes) {
    t.ErrorAt("size", bytes.error());
    return std::nullopt;
  }
  if (*bytes < kMinShmSize || *bytes > kMaxShmSize) {
    t.ErrorAt("size", fmt::format("size must be between {} and {}, got {}", FormatSize(kMinShmSize),
                                  FormatSize(kMaxShmSize), shown));
    return std::nullopt;
  }
  return *bytes;
}

void ReadShm(TableReader& root, ShmConfig& shm) {
  const toml::table* table = root.Table("shm");
  if (table == nullptr) return;
  TableReader t(*table, "shm", root.diag());
  t.RejectUnknownKeys({"name", "size", "persist", "reload_state"});
  if (const std::optional<std::string> name = t.String("name")) {
    if (IsShmName(*name)) {
      shm.name = *name;
    } else {
      t.ErrorAt("name", fmt::format("bad name {} (1 to 64 characters from A-Z a-z 0-9 _ . -)",
                                    config::Quote(*name)));
    }
  }
  if (const std::optional<size_t> size = ReadShmSize(t)) shm.size = *size;
  if (const std::optional<bool> persist = t.Bool("persist")) shm.persist = *persist;
  if (const std::optional<std::string> state = t.String("reload_state")) {
    if (*state == ReloadStateName(ReloadState::kPositional)) {
      shm.reload_state = ReloadState::kPositional;
    } else if (*state == ReloadStateName(ReloadState::kByPeer)) {
      shm.reload_state = ReloadState::kByPeer;
    } else {
      t.ErrorAt("reload_state",
                fmt::format("bad reload_state {} (positional or by_peer)", config::Quote(*state)));
    }
  }
}

void ReadDaemon(TableReader& root, DaemonConfig& daemon, std::map<std::string, std::string>& used) {
  daemon.workers = DefaultWorkerCount();
  const toml::table* table = root.Table("daemon");
  if (table == nullptr) return;
  TableReader t(*table, "daemon", root.diag());
  t.RejectUnknownKeys({"workers", "status_listen", "log_level", "error_log", "pid_file",
                       "shutdown_timeout", "on_event", "on_event_timeout"});
  if (const auto workers = t.Integer("workers", 1, kMaxWorkers)) {
    daemon.workers = static_cast<int>(*workers);
  }
  ReadListen(t, "status_listen", daemon.status_listen, used);
  if (const std::optional<std::string> level = t.String("log_level")) {
    if (std::find(std::begin(kLogLevels), std::end(kLogLevels), *level) != std::end(kLogLevels)) {
      daemon.log_level = *level;
    } else {
      t.ErrorAt("log_level", fmt::format("bad log level {} (debug, info, notice, warn or error)",
                                         config::Quote(*level)));
    }
  }
  if (const std::optional<std::string> error_log = t.String("error_log")) {
    if (error_log->empty()) {
      t.ErrorAt("error_log", "must not be empty (\"stderr\" or a file path)");
    } else {
      daemon.error_log = *error_log;
    }
  }
  if (const std::optional<std::string> pid_file = t.String("pid_file")) {
    if (pid_file->empty()) {
      t.ErrorAt("pid_file", "must not be empty (a file path; omit the key for no pid file)");
    } else {
      daemon.pid_file = *pid_file;
    }
  }
  if (const auto timeout = t.Integer("shutdown_timeout", 0, kMaxShutdownTimeoutMs)) {
    daemon.shutdown_timeout_ms = *timeout;
  }
  if (const std::optional<std::string> command = t.String("on_event")) {
    if (command->empty() || command->front() != '/') {
      t.ErrorAt("on_event", fmt::format("{} is not an absolute path to an executable",
                                        config::Quote(*command)));
    } else if (access(command->c_str(), X_OK) != 0) {
      t.ErrorAt("on_event", fmt::format("{} cannot be run: {}", config::Quote(*command),
                                        std::generic_category().message(errno)));
    } else {
      daemon.on_event = *command;
    }
  }
  if (const auto timeout = t.Integer("on_event_timeout", 1, kMaxOnEventTimeoutMs)) {
    daemon.on_event_timeout_ms = *timeout;
  }
}

// A peer: an address string, or a table { address = "...", down = true }.
std::optional<ConfigPeer> ReadPeer(const toml::node& node, const std::string& path,
                                   Diagnostics& diag) {
  ConfigPeer peer;
  peer.line = static_cast<int>(node.source().begin.line);
  const toml::node* address_node = &node;
  std::string address_path = path;
  if (const auto* table = node.as_table()) {
    TableReader t(*table, path, diag);
    t.RejectUnknownKeys({"address", "down"});
    if (const std::optional<bool> down = t.Bool("down")) peer.down = *down;
    if (!t.Require("address")) return std::nullopt;
    address_node = t.Get("address");
    address_path = t.PathOf("address");
  } else if (!node.is_string()) {
    diag.Report(node.source(), path,
                fmt::format("expected a peer address or a table {{ address = \"...\", down = true "
                            "}}, got {}",
                            config::Describe(node)));
    return std::nullopt;
  }
  const std::optional<std::string> text = config::ReadString(*address_node, address_path, diag);
  if (!text) return std::nullopt;
  Result<std::string> canonical = config::CanonicalPeerAddress(*text);
  if (!canonical) {
    diag.Report(address_node->source(), address_path, canonical.error());
    return std::nullopt;
  }
  peer.address = std::move(canonical).value();
  return peer;
}

// nginx accepts a repeated `server` (two peers, probed and picked separately), so a
// duplicate in one list is a warning.
std::vector<ConfigPeer> ReadPeers(TableReader& t, std::string_view key) {
  std::vector<ConfigPeer> peers;
  const toml::array* array = t.Array(key);
  if (array == nullptr) return peers;
  std::map<std::string, std::string, std::less<>> first_path;  // address -> key path
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string path = fmt::format("{}[{}]", t.PathOf(key), i);
    const toml::node& node = *array->get(i);
    std::optional<ConfigPeer> peer = ReadPeer(node, path, t.diag());
    if (!peer) continue;
    const auto [it, inserted] = first_path.emplace(peer->address, path);
    if (!inserted) {
      t.diag().Warn(node.source(), path,
                    fmt::format("duplicate peer {} (also {}): nginx accepts a repeated server, and "
                                "it is checked and picked as two peers",
                                peer->address, it->second));
    }
    peers.push_back(std::move(*peer));
  }
  return peers;
}

std::optional<std::vector<double>> ReadStatuses(TableReader& t) {
  const toml::array* array = t.Array("valid_statuses");
  if (array == nullptr) return std::nullopt;
  // An empty list is kept: like the original, it makes every status invalid (Q10).
  if (array->empty()) {
    t.WarnAt("valid_statuses",
             "an empty list makes every status invalid: every peer will fail its checks");
  }
  std::vector<double> statuses;
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string path = fmt::format("{}[{}]", t.PathOf("valid_statuses"), i);
    if (const auto status =
            config::ReadInteger(*array->get(i), path, "status", 100, 999, t.diag())) {
      statuses.push_back(static_cast<double>(*status));
    }
  }
  return statuses;
}

// The trust store each worker's https prober loads at spawn: a missing or unreadable file
// fails the config instead of every worker at every start.
std::optional<std::string> TrustStoreError(const std::string& ca_file) {
  Status st = ValidateTrustStore(ca_file);
  if (st.ok()) return std::nullopt;
  return st.message();
}

// spawn_checker()'s validation (protocol.md §3) as far as a TOML can fail it: the original's
// order and strings, and only the first failure, as spawn_checker returns it (`request`
// stands in for http_req, and the HTTP keys' cross-checks follow, as in Spawn). shm and the
// upstream come from [shm] and the enclosing [[upstream]], so only its name can be missing
// (rows 4, 5 and 7-9 cannot fail). Then Checker::Spawn's own later steps: the Q11 fix, the
// trust store and the TLS keys. Wrong TOML types of the other keys are reported apart.
void ValidateLikeSpawn(TableReader& t, const CheckOptions& check, bool upstream_named,
                       ConfigFiles files) {
  if (t.Get("type") == nullptr) {
    // A misspelt "tpye" is already reported as unknown, with "type" suggested.
    if (!t.Suggested("type")) t.ErrorAtTable("\"type\" option required");
    return;
  }
  const bool known =
      check.type == "http" || check.type == "https" || check.type == "tcp" || check.type == "tls";
  if (!known) {
    t.ErrorAt("type", "only \"http\" and \"https\" type are supported right now");
    return;
  }
  const bool sends_request = check.type == "http" || check.type == "https";
  if (!sends_request && t.Get("http_req") != nullptr) {
    t.ErrorAt("http_req", TypeSendsNoRequest(*check.type));
    return;
  }
  if (sends_request && t.Get("http_req") == nullptr && t.Get("request") == nullptr) {
    if (!t.Suggested("http_req") && !t.Suggested("request")) {
      t.ErrorAtTable("\"http_req\" option required");
    }
    return;
  }
  if (!config::ValidateCheckHttp(t, check)) return;
  if (!upstream_named) {
    t.ErrorAtTable("no upstream specified");
    return;
  }
  if (check.timeout_ms && *check.timeout_ms < 0) {
    t.ErrorAt("timeout", "\"timeout\" option must be >= 0");
    return;
  }
  const bool tls = *check.type == "https" || *check.type == "tls";
  if (files == ConfigFiles::kLoad && tls && check.ssl_verify.value_or(true) && check.ca_file &&
      !check.ca_file->empty()) {
    if (std::optional<std::string> error = TrustStoreError(*check.ca_file)) {
      t.ErrorAt("ca_file", *error);
      return;
    }
  }
  config::ValidateCheckTls(t, check, files);
}

// Values the original accepts with a meaning a reader may not expect (protocol.md §3, Q10,
// Q11), and requests that rarely do what was meant.
void WarnAboutCheck(TableReader& t, const CheckOptions& check) {
  if (check.interval_ms && *check.interval_ms < 2) {
    t.WarnAt("interval", fmt::format("interval {} is below the minimum: checks run every 2 ms",
                                     *check.interval_ms));
  }
  if (check.timeout_ms && *check.timeout_ms == 0) {
    t.WarnAt("timeout", "timeout 0 means 60000 ms for each step (nginx's default socket timeouts)");
  }
  if (check.fall && *check.fall <= 0) {
    t.WarnAt("fall", fmt::format("fall {} turns a peer down at its first failure, as fall = 1 does",
                                 *check.fall));
  }
  if (check.rise && *check.rise <= 0) {
    t.WarnAt("rise", fmt::format("rise {} turns a peer up at its first success, as rise = 1 does",
                                 *check.rise));
  }
  if (check.concurrency && *check.concurrency < 1) {
    t.WarnAt("concurrency",
             fmt::format("concurrency {} probes one peer at a time, as concurrency = 1 does",
                         *check.concurrency));
  }
  if (check.http_req && !check.http_req->ends_with("\r\n\r\n")) {
    t.WarnAt("http_req",
             "does not end with an empty line (\"\\r\\n\\r\\n\"): it is sent as written, and a "
             "server may wait for the rest of the request until the timeout");
  }
  if ((check.type == "https" || check.type == "tls") && !check.host &&
      check.ssl_verify.value_or(true)) {
    t.WarnAt("type", *check.type +
                         " without \"host\": no SNI is sent, and the certificate's name is not "
                         "verified (only its chain)");
  }
}

CheckOptions ReadCheck(TableReader& t, bool upstream_named, ConfigFiles files) {
  t.RejectUnknownKeys({"type",     "http_req",      "interval",       "timeout",
                       "fall",     "rise",          "valid_statuses", "concurrency",
                       "port",     "host",          "ssl_verify",     "ca_file",
                       "tls_cert", "tls_key",       "alpn",           "tls_min_version",
                       "request",  "expect_status", "expect_header",  "expect_body",
                       "body_max", "fastinter",     "downinter",      "jitter"});
  CheckOptions check;
  // Any value other than "http" or "https", of any TOML type, is the original's row 2.
  if (const toml::node* type = t.Get("type"); type != nullptr && type->is_string()) {
    check.type = type->as_string()->get();
  }
  check.http_req = t.String("http_req");
  check.interval_ms = t.Integer("interval", kMinInteger, kMaxCheckMs);
  // Unlike interval (the original clamps it), the scheduling keys are new: refuse nonsense.
  check.fastinter_ms = t.Integer("fastinter", 1, kMaxCheckMs);
  check.downinter_ms = t.Integer("downinter", 1, kMaxCheckMs);
  check.jitter = t.Integer("jitter", 0, 100);
  check.timeout_ms = t.Integer("timeout", kMinInteger, kMaxCheckMs);
  check.fall = t.Integer("fall", kMinInteger);
  check.rise = t.Integer("rise", kMinInteger);
  check.valid_statuses = ReadStatuses(t);
  check.concurrency = t.Integer("concurrency", kMinInteger);
  check.port = t.Integer("port", 1, 65535);
  check.host = t.String("host");
  if (check.host && check.host->empty()) t.ErrorAt("host", "must not be empty (a host name)");
  check.ssl_verify = t.Bool("ssl_verify");
  check.ca_file = t.String("ca_file");
  if (check.ca_file && check.ca_file->empty()) {
    t.ErrorAt("ca_file", "must not be empty (a file path; omit the key for the system store)");
  }
  config::ReadCheckTls(t, check);
  config::ReadCheckHttp(t, check);
  ValidateLikeSpawn(t, check, upstream_named, files);
  WarnAboutCheck(t, check);
  config::WarnAboutCheckHttp(t, check);
  return check;
}

// [upstream.passive] (DESIGN §10). It lives in the check options: the checker counts the
// streak, and only the active checks bring a peer back up.
void ReadPassive(TableReader& upstream, std::optional<CheckOptions>& check) {
  const toml::table* table = upstream.Table("passive");
  if (table == nullptr) return;
  TableReader t(*table, upstream.PathOf("passive"), upstream.diag());
  t.RejectUnknownKeys({"fall", "skip_active_when_passing"});
  PassiveOptions passive;
  if (std::optional<int64_t> fall = t.Integer("fall", 1)) passive.fall = *fall;
  passive.skip_active_when_passing = t.Bool("skip_active_when_passing").value_or(false);
  if (!check) {
    t.ErrorAtTable("passive checks need [upstream.check]: only active checks turn a peer back up");
    return;
  }
  check->passive = passive;
}

UpstreamConfig ReadUpstream(TableReader& t, const ShmConfig& shm,
                            std::map<std::string, std::string>& used, ConfigFiles files) {
  t.RejectUnknownKeys({"name", "primary", "backup", "balancer_listen", "slow_start",
                       "panic_threshold", "check", "passive"});
  UpstreamConfig upstream;
  upstream.line = static_cast<int>(t.table().source().begin.line);
  if (t.Require("name")) {
    if (std::optional<std::string> name = t.String("name")) {
      if (IsUpstreamName(*name)) {
        upstream.name = std::move(*name);
      } else {
        t.ErrorAt("name",
                  fmt::format("bad upstream name {} (1 to {} printable ASCII characters, without "
                              "spaces, quotes or backslashes)",
                              config::Quote(*name), kMaxUpstreamName));
      }
    }
  }
  upstream.primary = ReadPeers(t, "primary");
  upstream.backup = ReadPeers(t, "backup");
  const toml::array* primary = t.table().get_as<toml::array>("primary");
  if (t.Get("primary") == nullptr || (primary != nullptr && primary->empty())) {
    const std::string message =
        "no primary peers (nginx refuses an upstream without servers: \"no servers are inside "
        "upstream\"); list at least one in \"primary\"";
    if (primary != nullptr) {
      t.ErrorAt("primary", message);
    } else {
      t.ErrorAtTable(message);
    }
  }
  ReadListen(t, "balancer_listen", upstream.balancer_listen, used);
  config::ReadUpstreamBalancing(t, upstream);
  if (const toml::table* check = t.Table("check")) {
    TableReader c(*check, t.PathOf("check"), t.diag());
    upstream.check = ReadCheck(c, t.Get("name") != nullptr, files);
    upstream.check->shm = shm.name;
    upstream.check->upstream = upstream.name;
  }
  ReadPassive(t, upstream.check);
  return upstream;
}

void ReadUpstreams(TableReader& root, Config& config, std::map<std::string, std::string>& used,
                   ConfigFiles files) {
  const toml::node* node = root.Get("upstream");
  if (node == nullptr) return;
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    root.ErrorAt("upstream", fmt::format("expected an array of tables ([[upstream]]), got {}",
                                         config::Describe(*node)));
    return;
  }
  std::map<std::string, int, std::less<>> first_line;
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string path = fmt::format("upstream[{}]", i);
    const toml::node& element = *array->get(i);
    const toml::table* table = element.as_table();
    if (table == nullptr) {
      root.diag().Report(
          element.source(), path,
          fmt::format("expected a table ([[upstream]]), got {}", config::Describe(element)));
      continue;
    }
    TableReader t(*table, path, root.diag());
    UpstreamConfig upstream = ReadUpstream(t, config.shm, used, files);
    if (!upstream.name.empty()) {
      const auto [it, inserted] = first_line.emplace(upstream.name, upstream.line);
      if (!inserted) {
        t.ErrorAt("name", fmt::format("duplicate upstream name {} (first defined at line {})",
                                      config::Quote(upstream.name), it->second));
      }
    }
    config.upstreams.push_back(std::move(upstream));
  }
}

}  // namespace

std::string_view ReloadStateName(ReloadState state) {
  return state == ReloadState::kByPeer ? "by_peer" : "positional";
}

int DefaultWorkerCount() {
  const unsigned cpus = std::thread::hardware_concurrency();
  if (cpus == 0) return 1;
  return static_cast<int>(std::min<unsigned>(cpus, kMaxWorkers));
}

Result<Config> ParseConfig(std::string_view text, std::string_view path_for_messages,
                           ConfigFiles files) {
  toml::table root;
  // toml++ reports syntax errors by throwing (Debian's shared build has exceptions on);
  // this is the one place that catches them.
  try {
    root = toml::parse(text, std::string(path_for_messages));
  } catch (const toml::parse_error& e) {
    return Result<Config>::Error(fmt::format("{}:{}:{}: invalid TOML: {}", path_for_messages,
                                             e.source().begin.line, e.source().begin.column,
                                             e.description()));
  }
  Diagnostics diag(path_for_messages);
  TableReader t(root, "", diag);
  t.RejectUnknownKeys({"shm", "daemon", "fleet", "upstream"});
  Config config;
  config.path = std::string(path_for_messages);
  std::map<std::string, std::string> listen_used;  // host:port -> key path
  ReadShm(t, config.shm);
  ReadDaemon(t, config.daemon, listen_used);
  config::ReadFleet(t, config.fleet);
  ReadUpstreams(t, config, listen_used, files);
  // Valid, like an nginx.conf without upstream blocks, but the daemon would check nothing.
  if (root.empty()) {
    diag.Warn({}, "", "the configuration is empty: no [[upstream]], nothing to check");
  } else if (config.upstreams.empty()) {
    constexpr std::string_view kNone = "no [[upstream]]: nothing to check";
    if (root.contains("upstream")) {
      t.WarnAt("upstream", kNone);
    } else {
      diag.Warn({}, "", kNone);
    }
  }
  if (!diag.empty()) return diag.ToStatus();
  config.warnings = diag.Warnings();
  return config;
}

Result<Config> LoadConfig(const std::string& path, ConfigFiles files) {
  // A directory opens and reads as empty, and a FIFO blocks the read (and a reload could not
  // read it again): only a regular file is a config.
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return Result<Config>::Error(
        fmt::format("{}: cannot open config file: {}", path,
                    S_ISDIR(st.st_mode) ? "Is a directory" : "not a regular file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Result<Config>::Error(fmt::format("{}: cannot open config file: {}", path,
                                             std::generic_category().message(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return Result<Config>::Error(fmt::format("{}: cannot read config file", path));
  }
  return ParseConfig(std::move(text).str(), path, files);
}

}  // namespace upcheck
