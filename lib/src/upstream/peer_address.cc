#include "upcheck/peer_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>
#include <cstdint>
#include <optional>

namespace upcheck {
namespace {

constexpr std::string_view kUnixPrefix = "unix:";

Status Invalid(std::string_view text, std::string_view why) {
  std::string message = "invalid peer address \"";
  message.append(text);
  message.append("\": ");
  message.append(why);
  return Status::Error(std::move(message));
}

// "1".."65535", decimal digits only (leading zeros allowed, as nginx's ngx_atoi does).
std::optional<uint16_t> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < 1 || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

// inet_pton + inet_ntop: the canonical text of an IP literal, or nullopt.
std::optional<std::string> CanonicalIp(int family, std::string_view literal) {
  const std::string copy(literal);  // inet_pton needs a NUL-terminated string
  unsigned char binary[sizeof(in6_addr)];
  if (inet_pton(family, copy.c_str(), binary) != 1) return std::nullopt;
  char text[INET6_ADDRSTRLEN];
  if (inet_ntop(family, binary, text, sizeof(text)) == nullptr) return std::nullopt;
  return std::string(text);
}

Result<PeerAddress> ParseUnix(std::string_view text) {
  const std::string_view path = text.substr(kUnixPrefix.size());
  if (path.empty()) return Invalid(text, "empty unix socket path");
  // The whole rest is the path, even "/run/x:123" (protocol.md Q23).
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Invalid(text, "unix socket path too long (at most " +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)");
  }
  if (path.find('\0') != std::string_view::npos) return Invalid(text, "NUL byte in the path");
  return PeerAddress{PeerAddress::Family::kUnix, std::string(path), 0};
}

Result<PeerAddress> ParseIpv6(std::string_view text) {
  const size_t close = text.find(']');
  if (close == std::string_view::npos) return Invalid(text, "missing ']' after the IPv6 address");
  const std::string_view literal = text.substr(1, close - 1);
  const std::string_view rest = text.substr(close + 1);
  if (rest.empty() || rest == ":") return Invalid(text, "missing port");
  if (rest.front() != ':') return Invalid(text, "expected ':' and a port after ']'");
  const std::optional<uint16_t> port = ParsePort(rest.substr(1));
  if (!port) return Invalid(text, "bad port \"" + std::string(rest.substr(1)) + "\" (1..65535)");
  std::optional<std::string> host = CanonicalIp(AF_INET6, literal);
  if (!host) return Invalid(text, "\"" + std::string(literal) + "\" is not an IPv6 address");
  return PeerAddress{PeerAddress::Family::kIpv6, std::move(*host), *port};
}

Result<PeerAddress> ParseIpv4(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) {
    return Invalid(text, "missing port");
  }
  const std::string_view literal = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (literal.empty()) return Invalid(text, "missing host");
  if (literal.find(':') != std::string_view::npos) {
    return Invalid(text, "put an IPv6 address in brackets, e.g. \"[::1]:80\"");
  }
  const std::optional<uint16_t> port = ParsePort(port_text);
  if (!port) return Invalid(text, "bad port \"" + std::string(port_text) + "\" (1..65535)");
  std::optional<std::string> host = CanonicalIp(AF_INET, literal);
  if (!host) {
    return Invalid(text, "\"" + std::string(literal) + "\" is not an IP literal; use an address");
  }
  return PeerAddress{PeerAddress::Family::kIpv4, std::move(*host), *port};
}

}  // namespace

Result<PeerAddress> ParsePeerAddress(std::string_view text) {
  if (text.empty()) return Invalid(text, "empty");
  if (text.starts_with(kUnixPrefix)) return ParseUnix(text);
  if (text.front() == '[') return ParseIpv6(text);
  return ParseIpv4(text);
}

std::string PeerAddressName(const PeerAddress& address) {
  std::string name;
  switch (address.family) {
    case PeerAddress::Family::kUnix:
      name.reserve(kUnixPrefix.size() + address.host.size());
      name.append(kUnixPrefix).append(address.host);
      return name;
    case PeerAddress::Family::kIpv6:
      name.reserve(address.host.size() + 8);
      name.append("[").append(address.host).append("]:");
      break;
    case PeerAddress::Family::kIpv4:
      name.reserve(address.host.size() + 6);
      name.append(address.host).append(":");
      break;
  }
  name.append(std::to_string(address.port));
  return name;
}

}  // namespace upcheck
