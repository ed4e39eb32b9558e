// ProbeResult: the outcome of one probe, with the original's message texts.
//
// `message` is exactly what the original logs after its "healthcheck: " prefix
// (protocol.md §8 and §13), so a checker logs it as is; the line of "bad status line from
// <name>: <line>" is escaped and cut (EscapedForLog). Plain data.
#ifndef UPCHECK_PROBE_PROBE_RESULT_H_
#define UPCHECK_PROBE_PROBE_RESULT_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/probe_result.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "upcheck/probe_kind.h"

namespace upcheck {

// When each step of a probe ended, in ms from its start; -1: the probe never got there.
struct ProbeTimings {
  double connected_ms = -1;   // the connection was established
  double handshaken_ms = -1;  // https, tls: the TLS handshake was done
  double sent_ms = -1;        // the request was written
  double first_byte_ms = -1;  // the answer's first byte was read
};

struct ProbeResult {
  ProbeKind kind = ProbeKind::kOk;
  bool timed_out = false;        // the step failed with "timeout"
  std::string message;           // the full text above; empty when kind == kOk
  std::string error;             // <err> alone: "connection refused", "timeout", "closed", ...;
                                 // the line for kStatusLine, the formatted status for kStatusCode
  std::string status_line;       // the first line read (CRs removed), when one was read
  std::optional<double> status;  // the parsed status, when the line was a status line
  std::string parse_error;       // PCRE2 failed to run (the original logs "failed to parse
                                 // status line: <parse_error>"); only with valid statuses set
  double duration_ms = 0;        // from Start to the outcome (handles closing excluded)
  ProbeTimings timings{};
  size_t body_bytes = 0;  // of the body read and matched (expect_body only)

  bool ok() const { return kind == ProbeKind::kOk; }
  // Whether the result counts as a success or a failure: all but kSocket (Q17).
  bool counted() const { return kind != ProbeKind::kSocket; }
};

// "ok", "connect", "tls", "send", "receive", "status_line", "status_code", "socket".
std::string_view ProbeKindName(ProbeKind kind);

// The `last_result` of /status.json (DESIGN.md §5): ProbeKindName, except "timeout"
// for a step that timed out.
std::string_view ProbeResultName(ProbeKind kind, bool timed_out);
std::string_view ProbeResultName(const ProbeResult& result);

// The original's message for a failed step: "failed to connect to <name>: <error>", ...
// (empty for kOk).
std::string ProbeMessage(ProbeKind kind, const std::string& name, const std::string& error);

// Records how a probe ended: `kind` and `timed_out`, and for a failure its message
// (ProbeMessage) and <err>. The duration is the caller's.
void SetOutcome(ProbeResult* result, ProbeKind kind, const std::string& name, std::string error,
                bool timed_out);

// The text the original prints for a libuv error code: "closed" for UV_EOF, otherwise
// ngx_lua's lower-cased strerror() ("connection refused", "connection reset by peer").
std::string SocketErrorText(int uv_error);

// Bytes from the network made safe for one log line: at most max_bytes of them, '\\' and
// every byte outside printable ASCII as \xNN, and "..." when cut short.
std::string EscapedForLog(std::string_view bytes, size_t max_bytes = 200);

}  // namespace upcheck

#endif  // UPCHECK_PROBE_PROBE_RESULT_H_
