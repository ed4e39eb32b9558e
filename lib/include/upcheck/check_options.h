// CheckOptions: the options of one checker, as the original's spawn_checker() takes them.
//
// Plain data, filled from the daemon's config or by an embedding server. Validation, the
// defaults and the exact error strings belong to Checker::Spawn (protocol.md §3); the
// config parser repeats that validation, with positions, so a config that passes spawns.
// No numeric option is range-checked but timeout (Q11). Absent optionals take the defaults.
#ifndef UPCHECK_CHECK_OPTIONS_H_
#define UPCHECK_CHECK_OPTIONS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CHECK)
#error "upcheck/check_options.h belongs to check/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace upcheck {

// `request = { method, path, host, headers, body }` (DESIGN §9): an HTTP/1.1 request with
// `Connection: close`, built once at spawn instead of a verbatim http_req.
struct CheckRequest {
  std::optional<std::string> method{};  // default "GET"
  std::optional<std::string> path{};    // default "/"
  std::optional<std::string> host{};    // default: the check's host, else the upstream's name
  std::vector<std::pair<std::string, std::string>> headers{};  // sent in this order
  std::optional<std::string> body{};                           // sent with its Content-Length
};

// `expect_header = { name, match }`: a header of the answer whose value matches `match`.
struct HeaderExpectation {
  std::string name{};   // matched case-insensitively
  std::string match{};  // PCRE2
};

// `[upstream.passive]` (DESIGN §10): what real traffic to a peer, as its balancers see it,
// counts for. Only a checked upstream has one: the active checks bring a peer back.
struct PassiveOptions {
  int64_t fall = 0;  // failures in a row, across all workers, that turn a peer down; 0: never
  // Skip a peer's active probe while real traffic to it passed within the last interval.
  bool skip_active_when_passing = false;
};

struct CheckOptions {
  std::optional<std::string> type;      // "http" | "https" | "tcp" | "tls"; required
  std::optional<std::string> http_req;  // raw bytes, sent verbatim; http(s) need it or
                                        // request; refused for tcp and tls (they send nothing)
  std::optional<std::string> shm;       // dict name; required (must name the segment's dict)
  std::optional<std::string> upstream;  // required
  std::optional<int64_t> timeout_ms;    // default 1000; 0: 60 s (nginx's socket defaults)
  std::optional<int64_t> interval_ms;   // default 1000; clamped to >= 2 when given
  // Scheduling (DESIGN §10); absent, every peer is probed every interval, as the original.
  std::optional<int64_t> fastinter_ms;  // a peer between states; default interval; > 0
  std::optional<int64_t> downinter_ms;  // a peer down; default interval; > 0
  std::optional<int64_t> jitter;        // percent of each delay, 0..100; default 0
  std::optional<std::vector<double>> valid_statuses;  // absent: any status line is ok
  std::optional<int64_t> concurrency;                 // default 1; <= 1: sequential
  std::optional<int64_t> fall;                        // default 5; <= 0: as 1
  std::optional<int64_t> rise;                        // default 2; <= 0: as 1
  std::optional<int64_t> port;                        // probe this port instead
  std::optional<std::string> host;                    // https, tls: SNI and certificate name
  std::optional<bool> ssl_verify;                     // https, tls: default true
  std::optional<std::string> ca_file;                 // https, tls: trust store; default system
  // https and tls only (an error with other types); absent, the check is the original's.
  std::optional<std::string> tls_cert;           // client certificate (PEM); with tls_key
  std::optional<std::string> tls_key;            // its private key (PEM); with tls_cert
  std::optional<std::vector<std::string>> alpn;  // offered; the server must pick one
  std::optional<std::string> tls_min_version;    // "1.0" | "1.1" | "1.2" | "1.3"
  // http and https only (an error with other types); absent, the check is the original's.
  std::optional<CheckRequest> request;                    // instead of http_req
  std::optional<std::vector<std::string>> expect_status;  // "200", "2xx", "200-399", "!503"
  std::optional<HeaderExpectation> expect_header;
  std::optional<std::string> expect_body;  // PCRE2 over the body's first body_max bytes
  std::optional<int64_t> body_max;         // bytes; default 65536
  std::optional<PassiveOptions> passive;   // absent: passive reports are ignored
  bool no_timer = false;  // test hook (debug events only): run one cycle synchronously
};

}  // namespace upcheck

#endif  // UPCHECK_CHECK_OPTIONS_H_
