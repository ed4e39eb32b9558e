// A config peer address in canonical form, through ParsePeerAddress (upcheck/peer_address.h),
// the one parser of the peer-address syntax (DESIGN.md §4).
//
// Pure string checks, no name resolution; safe from any thread. Listen addresses are
// handled by ParseListenAddress() in upcheck/config.h.
#ifndef UPCHECK_CONFIG_ADDRESS_H_
#define UPCHECK_CONFIG_ADDRESS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CONFIG)
#error "config/address.h belongs to config/, a layer above (see lib/meson.build)"
#endif

#include <string>
#include <string_view>

#include "upcheck/status.h"

namespace upcheck::config {

// Returns PeerAddressName(ParsePeerAddress(text)): IP literals as inet_ntop prints them
// ("[::1]:80" for "[0:0::1]:80", as nginx names its peers), unix paths as written.
// Errors are ParsePeerAddress's: `bad peer address "x" (<why and what is allowed>)`.
Result<std::string> CanonicalPeerAddress(std::string_view text);

}  // namespace upcheck::config

#endif  // UPCHECK_CONFIG_ADDRESS_H_
