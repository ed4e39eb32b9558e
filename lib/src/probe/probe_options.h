// ProbeOptions: how a checker probes its peers; the probe-related part of CheckOptions,
// after spawn_checker's defaults and validation (protocol.md §3). Plain data.
#ifndef UPCHECK_PROBE_PROBE_OPTIONS_H_
#define UPCHECK_PROBE_PROBE_OPTIONS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/probe_options.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "probe/response_rules.h"

namespace upcheck {

// kTcp ends at the connect, kTls at the handshake: neither sends a request.
enum class ProbeScheme : uint8_t { kHttp, kHttps, kTcp, kTls };

inline bool UsesTls(ProbeScheme scheme) {
  return scheme == ProbeScheme::kHttps || scheme == ProbeScheme::kTls;
}
// Whether probes send the request and judge the first line of the answer.
inline bool SendsRequest(ProbeScheme scheme) {
  return scheme == ProbeScheme::kHttp || scheme == ProbeScheme::kHttps;
}

struct ProbeOptions {
  ProbeScheme scheme = ProbeScheme::kHttp;
  std::string request{};            // raw bytes, sent verbatim (http_req); http and https only
  int64_t timeout_ms = 1000;        // for each step: connect, TLS handshake, send, line read;
                                    // 0: 60000 (nginx's socket defaults); < 0 is rejected (Q11)
  std::string host{};               // https, tls: SNI and certificate name; empty: neither
  bool ssl_verify = true;           // https, tls: verify the chain (and the name, when host is set)
  std::string ca_file{};            // https, tls, ssl_verify: PEM trust store; empty: system paths
  std::string tls_cert{};           // https, tls: client certificate chain (PEM); empty: none
  std::string tls_key{};            // its private key (PEM); set with tls_cert
  std::vector<std::string> alpn{};  // protocols offered; empty: no ALPN. The server must pick
                                    // one of them, or the probe fails
  int tls_min_version = 0;          // OpenSSL's TLS1_x_VERSION; 0: OpenSSL's default
  // nullopt: no status check, any first line is a success; otherwise the statuses that
  // count as a success (an empty list makes every status invalid, Q10).
  std::optional<std::vector<double>> valid_statuses{};
  // expect_status, expect_header, expect_body (DESIGN §9); all empty: the original's check.
  ResponseRuleTexts rules{};
};

// The timeout of each step in ms: timeout_ms, or 60000 when it is 0.
inline uint64_t EffectiveTimeoutMs(const ProbeOptions& options) {
  return options.timeout_ms == 0 ? 60000 : static_cast<uint64_t>(options.timeout_ms);
}

}  // namespace upcheck

#endif  // UPCHECK_PROBE_PROBE_OPTIONS_H_
