#include "config/address.h"

#include <sys/socket.h>

#include <cstdint>
#include <optional>

#include <fmt/format.h>

#include "upcheck/config.h"
#include "upcheck/peer_address.h"
#include "upstream/address_syntax.h"

namespace upcheck {
namespace {

constexpr std::string_view kListenForms =
    "IPv4:port, [IPv6]:port or a port alone for 127.0.0.1, e.g. \"127.0.0.1:8080\"";

}  // namespace

namespace config {

Result<std::string> CanonicalPeerAddress(std::string_view text) {
  Result<PeerAddress> address = ParsePeerAddress(text);
  if (!address.ok()) return Result<std::string>::Error(address.error());
  return PeerAddressName(*address);
}

}  // namespace config

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return Result<ListenAddress>::Error(fmt::format("bad listen address \"{}\" ({})", text, why));
  };
  // A port alone listens on loopback only: reaching the status pages from other hosts takes
  // an explicit address such as "0.0.0.0:8080".
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos) {
    const std::optional<uint16_t> port = ParsePortDigits(text);
    if (!port) return bad("the port must be a number between 0 and 65535");
    return ListenAddress{"127.0.0.1", *port, false};
  }
  const std::optional<HostPort> split = SplitHostPort(text);
  if (!split) return bad(kListenForms);
  const std::optional<uint16_t> port = ParsePortDigits(split->port);
  if (!port) return bad("the port must be a number between 0 and 65535");
  const int family = split->bracketed ? AF_INET6 : AF_INET;
  const std::optional<std::string> ip = CanonicalIp(family, split->host);
  if (!ip) return bad(kListenForms);
  return ListenAddress{*ip, *port, split->bracketed};
}

}  // namespace upcheck
