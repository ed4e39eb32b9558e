// Peer address syntax (DESIGN.md §4): "ipv4:port", "[ipv6]:port" or "unix:/path".
//
// Pure string checks, no name resolution; safe from any thread. Listen addresses are
// handled by ParseListenAddress() in upcheck/config.h.
#ifndef UPCHECK_CONFIG_ADDRESS_H_
#define UPCHECK_CONFIG_ADDRESS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CONFIG)
#error "config/address.h belongs to config/, a layer above this one (see lib/meson.build)"
#endif

#include <string>
#include <string_view>

#include "upcheck/status.h"

namespace upcheck::config {

// Returns the address in canonical form: IP literals as inet_ntop prints them ("[::1]:80"
// for "[0:0::1]:80", as nginx names its peers), unix paths as written. Host names are
// refused: nothing resolves them (see upcheck/peer_address.h, which the same strings
// must also pass).
// A unix path is never split at a trailing ":<digits>" (protocol.md Q23).
// Errors read `bad peer address "x" (<why and what is allowed>)`.
Result<std::string> CanonicalPeerAddress(std::string_view text);

}  // namespace upcheck::config

#endif  // UPCHECK_CONFIG_ADDRESS_H_
