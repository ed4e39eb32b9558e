// PeerAddress: a peer's parsed address, "ipv4:port", "[ipv6]:port" or "unix:/path", and
// the one parser the configuration, the upstream view and the probes take it from.
//
// Pure functions of their input, safe from any thread. Only IP literals are accepted:
// resolving a host name is the caller's business (nginx does it at config time).
// Canonical names are what nginx prints: inet_ntop text, brackets for IPv6, decimal port.
#ifndef UPCHECK_PEER_ADDRESS_H_
#define UPCHECK_PEER_ADDRESS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_UPSTREAM)
#error "upcheck/peer_address.h belongs to upstream/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <string>
#include <string_view>

#include "upcheck/status.h"

namespace upcheck {

// A parsed peer address. Only IP literals and unix paths: host names are not resolved.
struct PeerAddress {
  enum class Family : uint8_t { kIpv4, kIpv6, kUnix };
  Family family = Family::kIpv4;
  std::string host;   // "127.0.0.1", "::1" (no brackets), or the unix path "/run/app.sock"
  uint16_t port = 0;  // 1..65535 for IP peers; 0 for unix peers

  bool operator==(const PeerAddress&) const = default;
};

// Parses `text`: an IPv4 literal or a bracketed IPv6 literal and a port of 1..65535 (one
// to five digits), or "unix:" and an absolute path of at most 107 bytes with no control
// characters. A unix path is never split at a trailing ":<digits>" (protocol.md Q23).
// Errors read `bad peer address "<text>" (<why and what is allowed>)`.
Result<PeerAddress> ParsePeerAddress(std::string_view text);

// The canonical name of `address`: "127.0.0.1:80", "[::1]:80" or "unix:/run/app.sock".
std::string PeerAddressName(const PeerAddress& address);

}  // namespace upcheck

#endif  // UPCHECK_PEER_ADDRESS_H_
