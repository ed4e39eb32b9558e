// ProbeTarget: where a probe connects, built once from a peer's parsed address.
//
// Peer names are parsed by ParsePeerAddress (upcheck/peer_address.h), the one parser of
// the syntax; MakeProbeTarget() turns the result into a sockaddr once, when a checker
// starts, so that a probe needs no parsing, no DNS and no allocation to connect.
// Plain data; safe to copy and to share read-only between threads.
#ifndef UPCHECK_PROBE_PROBE_TARGET_H_
#define UPCHECK_PROBE_PROBE_TARGET_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/probe_target.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>

#include "upcheck/peer_address.h"
#include "upcheck/status.h"

namespace upcheck {

struct ProbeTarget {
  enum class Kind : uint8_t { kTcp, kUnix };

  std::string name;  // the configured peer name; every message shows it, even when the
                     // port is overridden (Q8)
  Kind kind = Kind::kTcp;
  std::string host;            // kTcp: the address literal, brackets stripped ("::1", Q29)
  int port = 0;                // kTcp: the port probed (the override when one is given)
  std::string path;            // kUnix: the socket path (PeerAddress::host)
  sockaddr_storage address{};  // kTcp: host and port, ready for connect()
};

// The target of peer `name` whose address is already parsed (the Upstreams view holds
// every peer's): only the sockaddr is built. `port_override`, when set, replaces the port
// of an IP peer, never of a unix one (Q23), and the name stays (Q8). Error: an override
// outside 1..65535, worded like ParsePeerAddress's `bad peer address "x" (<why>)`.
Result<ProbeTarget> MakeProbeTarget(std::string name, const PeerAddress& address,
                                    std::optional<int> port_override = std::nullopt);

}  // namespace upcheck

#endif  // UPCHECK_PROBE_PROBE_TARGET_H_
