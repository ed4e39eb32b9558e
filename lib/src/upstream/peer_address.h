// Peer address parsing for the upstream view: "ipv4:port", "[ipv6]:port", "unix:/path".
//
// Pure functions of their input, safe from any thread. Only IP literals are accepted:
// resolving a host name is the caller's business (nginx does it at config time).
// Canonical names are what nginx prints: inet_ntop text, brackets for IPv6, decimal port.
#ifndef UPCHECK_UPSTREAM_PEER_ADDRESS_H_
#define UPCHECK_UPSTREAM_PEER_ADDRESS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_UPSTREAM)
#error "upstream/peer_address.h belongs to upstream/, a layer above this one (see lib/meson.build)"
#endif

#include <string>
#include <string_view>

#include "upcheck/status.h"
#include "upcheck/upstreams.h"

namespace upcheck {

// Parses `text`. Errors read `invalid peer address "<text>": <why>`.
Result<PeerAddress> ParsePeerAddress(std::string_view text);

// The canonical name of `address`: "127.0.0.1:80", "[::1]:80" or "unix:/run/app.sock".
std::string PeerAddressName(const PeerAddress& address);

}  // namespace upcheck

#endif  // UPCHECK_UPSTREAM_PEER_ADDRESS_H_
