// The host:port pieces of the peer-address syntax that listen addresses share, and the one
// wording of a refused peer address. Defined in peer_address.cc, next to ParsePeerAddress,
// so the whole syntax is in one file.
//
// Pure functions of their input, safe from any thread.
#ifndef UPCHECK_UPSTREAM_ADDRESS_SYNTAX_H_
#define UPCHECK_UPSTREAM_ADDRESS_SYNTAX_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_UPSTREAM)
#error "upstream/address_syntax.h belongs to upstream/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace upcheck {

// A host and a port as written, split at "]:" for a bracketed IPv6 address and at the last
// ':' otherwise.
struct HostPort {
  std::string_view host;  // without brackets
  std::string_view port;
  bool bracketed = false;
};

// nullopt when `text` has no ':' (or a '[' with no "]:").
std::optional<HostPort> SplitHostPort(std::string_view text);

// Decimal 0..65535: one to five digits, nothing else.
std::optional<uint16_t> ParsePortDigits(std::string_view text);

// inet_ntop's spelling of an IP literal of `family` (AF_INET, AF_INET6), or nullopt.
std::optional<std::string> CanonicalIp(int family, std::string_view host);

// `bad peer address "<text>" (<why>)`: every refusal of a peer address reads like this.
std::string BadPeerAddress(std::string_view text, std::string_view why);

}  // namespace upcheck

#endif  // UPCHECK_UPSTREAM_ADDRESS_SYNTAX_H_
