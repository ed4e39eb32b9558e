// Config: the daemon's configuration, as read from upcheck.toml (DESIGN.md §4).
//
// ParseConfig() checks TOML syntax, key names, value types and ranges, and each check
// table as spawn_checker() would (protocol.md §3: its order, its strings, the first failure
// only). It reports every problem as "file:line:col: key.path: what was wrong", one per
// line, in file order. What is valid but likely not meant (a duplicate peer, fall = 0, no
// upstream, ...) comes back in Config::warnings, in the same form with "warning: " after the
// position. It loads the https trust stores (ca_file) the workers will load, unless told
// ConfigFiles::kSkip, and touches neither the network nor shm; safe from any thread. The
// checker applies the defaults (CheckOptions); numeric options keep the original's meaning.
#ifndef UPCHECK_CONFIG_H_
#define UPCHECK_CONFIG_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CONFIG)
#error "upcheck/config.h belongs to config/, a layer above (see lib/meson.build)"
#endif

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "upcheck/check_options.h"
#include "upcheck/fleet_config.h"
#include "upcheck/size.h"
#include "upcheck/status.h"

namespace upcheck {

// One `server` of an upstream: "ipv4:port", "[ipv6]:port" or "unix:/path", stored in
// canonical form ("[0:0::1]:80" becomes "[::1]:80", as nginx prints it). Host names are
// refused: nothing in the engine resolves them.
struct ConfigPeer {
  std::string address;
  bool down = false;  // nginx's `server ... down`: starts down in every worker's view
  int line = 0;       // where it was written, for later messages; 0 if unknown
};

// How a SIGHUP reload carries the dict into the new segment.
enum class ReloadState : uint8_t {
  // Every live key as it is, as the original's dict survives a HUP: the peer keys are
  // positional (d:U:p0 is whichever peer is first now), as in protocol.md Q6.
  kPositional = 0,
  // A peer's keys follow its address to its new position in the same upstream and list;
  // keys of peers and upstreams that are gone are dropped (lua-resty-upstream-healthcheck
  // issue #84).
  kByPeer = 1,
};

struct ShmConfig {
  std::string name = "healthcheck";  // [A-Za-z0-9_.-], 1 to 64 bytes
  // The dict's capacity, as lua_shared_dict's size: kMinShmSize..kMaxShmSize. The segment
  // holds the registry and worker table on top of it.
  size_t size = size_t{1024} * 1024;
  bool persist = false;  // keep the segment across daemon restarts
  ReloadState reload_state = ReloadState::kPositional;
};

// "positional" or "by_peer", as written in upcheck.toml.
std::string_view ReloadStateName(ReloadState state);

inline constexpr int64_t kDefaultShutdownTimeoutMs = 10000;
inline constexpr int64_t kDefaultOnEventTimeoutMs = 5000;
inline constexpr int64_t kMaxOnEventTimeoutMs = 3600000;

struct DaemonConfig {
  int workers = 1;                           // 1..kMaxWorkers; default DefaultWorkerCount()
  std::optional<std::string> status_listen;  // "ipv4:port" or "[ipv6]:port"; absent: off
  std::string log_level = "warn";            // debug | info | notice | warn | error
  std::string error_log = "stderr";          // "stderr" or a file path
  std::optional<std::string> pid_file;
  // SIGQUIT: how long workers wait for balancer connections in flight before closing them.
  int64_t shutdown_timeout_ms = kDefaultShutdownTimeoutMs;
  // Run by the master once per journal event, the event's JSON on stdin (an absolute path
  // to an executable, run without a shell); killed after on_event_timeout_ms.
  std::optional<std::string> on_event;
  int64_t on_event_timeout_ms = kDefaultOnEventTimeoutMs;
};

struct UpstreamConfig {
  std::string name;
  std::vector<ConfigPeer> primary;  // never empty in a parsed config
  std::vector<ConfigPeer> backup;
  std::optional<std::string> balancer_listen;  // same syntax as status_listen
  // The balancer (DESIGN §10): how long a recovered peer's share ramps up, and the percent
  // of primaries up below which every primary is picked. 0: off.
  int64_t slow_start_ms = 0;  // 0..a day
  int panic_threshold = 0;    // 0..100
  // Absent: the upstream has no checker. Present: shm and upstream are filled in from
  // shm.name and name; every other field is as written (absent means the default).
  std::optional<CheckOptions> check;
  int line = 0;  // of its [[upstream]] header
};

struct Config {
  std::string path;  // as given to LoadConfig / ParseConfig
  ShmConfig shm;
  DaemonConfig daemon;
  std::optional<FleetConfig> fleet;       // [fleet]; absent: every host checks on its own
  std::vector<UpstreamConfig> upstreams;  // in file order; names are unique
  // "file:line:col: warning: key.path: message" (or "file: warning: message"), file order.
  std::vector<std::string> warnings;
};

// ngx_lua refuses a lua_shared_dict below 8k ("invalid lua shared dict size").
inline constexpr size_t kMinShmSize = size_t{8} * 1024;
inline constexpr size_t kMaxShmSize = size_t{1024} * 1024 * 1024;
inline constexpr int kMaxWorkers = 1024;

// What the parser checks beyond the text.
enum class ConfigFiles : uint8_t {
  kLoad,  // also load each https check's ca_file, as the workers will (upcheckd)
  kSkip,  // the text alone: for readers that need only names (the tools), and fuzzing
};

// Reads and parses the file at `path`. A file that cannot be read, or that is not a regular
// file (a directory), is an error naming it.
Result<Config> LoadConfig(const std::string& path, ConfigFiles files = ConfigFiles::kLoad);

// Parses `text`; `path_for_messages` is the file name used in error messages and stored
// in Config::path.
Result<Config> ParseConfig(std::string_view text, std::string_view path_for_messages,
                           ConfigFiles files = ConfigFiles::kLoad);

// The config as canonical TOML: every section and every default written out, in the
// order of DESIGN.md §4. ParseConfig() of the result gives back an equal Config (except
// `path` and the `line` fields). Used by `upcheckd --test` to show what it understood.
std::string DumpConfig(const Config& config);

// A listening address split for bind(): host without brackets, port 0..65535.
struct ListenAddress {
  std::string host;  // an IPv4 or IPv6 literal
  uint16_t port = 0;
  bool ipv6 = false;
};
// Accepts "127.0.0.1:8080", "[::1]:8080" and a port alone, "8080", which means
// "127.0.0.1:8080": loopback unless an address says otherwise (port 0: any free port).
Result<ListenAddress> ParseListenAddress(std::string_view text);

// The number of online CPUs, clamped to 1..kMaxWorkers: the default of daemon.workers.
int DefaultWorkerCount();

}  // namespace upcheck

#endif  // UPCHECK_CONFIG_H_
