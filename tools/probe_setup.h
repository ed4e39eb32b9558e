// upcheck-probe's command line turned into what one probe needs: the check's options (from
// the flags alone, or from an upstream's check in a config, the flags overriding) and the
// endpoint to probe. Validation is the engine's (ValidateCheckOptions), so a bad value reads
// as it would in upcheck.toml or nginx.conf.
//
// Pure functions of their arguments but for reading the config file; no network.
#ifndef UPCHECK_TOOLS_PROBE_SETUP_H_
#define UPCHECK_TOOLS_PROBE_SETUP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "upcheck/check_options.h"
#include "upcheck/status.h"

namespace upcheck::probe_tool {

// The flags as given; absent ones leave the check's value (or the default) alone.
struct ProbeFlags {
  std::optional<std::string> target;  // URL or HOST:PORT (without -c)
  std::optional<std::string> type;
  std::optional<std::string> expect_status;  // comma list
  std::optional<std::string> expect_header;  // NAME:REGEX
  std::optional<std::string> expect_body;
  std::optional<std::string> body_max;  // a size: 4096, 64k
  std::optional<std::string> method;
  std::optional<std::string> path;
  std::optional<std::string> host;
  std::vector<std::string> headers;  // "Name: value", in order
  std::optional<std::string> body;
  std::optional<std::string> http_req;  // raw, with \r \n \t \\ escapes
  std::optional<int64_t> timeout_ms;
  std::optional<std::string> valid_statuses;  // comma list
  std::optional<std::string> ca_file;
  bool insecure = false;
  std::optional<std::string> cert;
  std::optional<std::string> key;
  std::optional<std::string> alpn;  // comma list
  std::optional<std::string> tls_min_version;
  std::optional<std::string> config;
  std::optional<std::string> upstream;
  std::optional<std::string> peer;
};

// Where the probe connects. `host` is a name to resolve or an address literal (no brackets);
// a unix peer has only `unix_path`.
struct ProbeEndpoint {
  std::string host;
  int port = 0;
  std::optional<std::string> unix_path;
  std::string name;  // a config's peer as the checker names it; empty: the resolved address
};

struct ProbeSetup {
  CheckOptions options;  // passed ValidateCheckOptions
  ProbeEndpoint endpoint;
};

// Builds and validates the probe. Error: one line naming the flag, the target, the config
// problem or the check option that is wrong.
Result<ProbeSetup> BuildProbeSetup(const ProbeFlags& flags);

// "a,b" -> {"a", "b"}; "" -> {} (an empty list, as `valid_statuses=` in nginx).
std::vector<std::string> SplitCommaList(const std::string& text);

// --http-req's escapes: \r, \n, \t and \\ become CR, LF, TAB and a backslash.
std::string UnescapeRequest(const std::string& text);

}  // namespace upcheck::probe_tool

#endif  // UPCHECK_TOOLS_PROBE_SETUP_H_
