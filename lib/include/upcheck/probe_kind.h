// ProbeKind: which step of a health probe decided its outcome. Plain value, shared by the
// probe layer (ProbeResult), the checker's events and the per-peer details, which store it:
// the values are append only.
#ifndef UPCHECK_PROBE_KIND_H_
#define UPCHECK_PROBE_KIND_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "upcheck/probe_kind.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>

namespace upcheck {

enum class ProbeKind : uint8_t {
  kOk = 0,
  kConnect = 1,     // "failed to connect to <name>: <err>"
  kTls = 2,         // "failed to ssl handshake to <name>: <err>"
  kSend = 3,        // "failed to send request to <name>: <err>"
  kReceive = 4,     // "failed to receive status line from <name>: <err>"
  kStatusLine = 5,  // "bad status line from <name>: <line, EscapedForLog>"
  kStatusCode = 6,  // "bad status code from <name>: <status %.14g>"
  kSocket = 7,      // "failed to create stream socket: <err>"; not counted (Q17)
  // The rules of DESIGN §9, read after the status line only when a check sets them.
  kHeader = 8,            // "header <name> of <peer> <why>": <err> is "<name> <why>"
  kBody = 9,              // "body of <peer> <err>": "does not match expect_body", ...
  kReceiveResponse = 10,  // "failed to receive response from <peer>: <err>" (headers, body)
};

}  // namespace upcheck

#endif  // UPCHECK_PROBE_KIND_H_
