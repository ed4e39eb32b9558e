// ProbeTarget: where a probe connects, parsed once from a peer's configured name.
//
// Peer names are nginx's canonical socket-address text: "127.0.0.1:80", "[::1]:80" or
// "unix:/path" (protocol.md §10). ParseProbeTarget() splits a name once, when a checker
// starts, so that a probe needs no parsing, no DNS and no allocation to connect.
// Plain data; safe to copy and to share read-only between threads.
#ifndef UPCHECK_PROBE_PROBE_TARGET_H_
#define UPCHECK_PROBE_PROBE_TARGET_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/probe_target.h belongs to probe/, a layer above this one (see lib/meson.build)"
#endif

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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
  std::string path;            // kUnix: the socket path, without "unix:"
  sockaddr_storage address{};  // kTcp: host and port, ready for connect()
};

// Splits `name` like the original's greedy `^(.*):\d+$` (the split is at the last ':'
// followed only by digits), then:
//  - names starting with "unix:" are never split (Q23 fixed) and ignore `port_override`;
//  - "[::1]:123" gives host "::1" (brackets stripped, Q29);
//  - `port_override`, when set, replaces the port of every host:port name.
// Errors (the config layer should have caught them, since nginx would): a host that is
// not an IPv4/IPv6 literal (names are resolved at config time), a port outside 1..65535,
// a name with no port, an empty or too long unix socket path.
Result<ProbeTarget> ParseProbeTarget(std::string_view name,
                                     std::optional<int> port_override = std::nullopt);

// The target of a peer whose address is already parsed (the Upstreams view holds every
// peer's): only the sockaddr is built. `port_override`, when set, replaces the port of an
// IP peer, never of a unix one. Error: an override outside 1..65535, worded as above.
Result<ProbeTarget> MakeProbeTarget(std::string name, const PeerAddress& address,
                                    std::optional<int> port_override = std::nullopt);

}  // namespace upcheck

#endif  // UPCHECK_PROBE_PROBE_TARGET_H_
