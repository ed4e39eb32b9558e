#include "upcheck/peer_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstdint>
#include <optional>

#include <fmt/format.h>

#include "upstream/address_syntax.h"

namespace upcheck {
namespace {

constexpr std::string_view kUnixPrefix = "unix:";
constexpr std::string_view kPeerForms = "IPv4:port, [IPv6]:port or unix:/path";

Status Bad(std::string_view text, std::string_view why) {
  return Status::Error(BadPeerAddress(text, why));
}

bool IsHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  size_t label = 0;
  for (const char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '_') return false;
    if (++label > 63) return false;
  }
  return true;
}

bool LooksNumeric(std::string_view host) {
  return !host.empty() && host.find_first_not_of("0123456789.") == std::string_view::npos;
}

// The whole rest is the path, even "/run/x:123" (protocol.md Q23).
Result<PeerAddress> ParseUnix(std::string_view text) {
  const std::string_view path = text.substr(kUnixPrefix.size());
  if (path.empty() || path.front() != '/') {
    return Bad(text, "unix: needs an absolute path, e.g. \"unix:/run/app.sock\"");
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Bad(text, fmt::format("unix socket path longer than {} bytes",
                                 sizeof(sockaddr_un::sun_path) - 1));
  }
  for (const char c : path) {
    if (static_cast<unsigned char>(c) < 0x20) return Bad(text, "control character in the path");
  }
  return PeerAddress{PeerAddress::Family::kUnix, std::string(path), 0};
}

// The host of an IP peer whose port is already valid.
Result<PeerAddress> ParseIpHost(std::string_view text, const HostPort& split, uint16_t port) {
  if (split.bracketed) {
    std::optional<std::string> ip = CanonicalIp(AF_INET6, split.host);
    if (!ip) return Bad(text, "not an IPv6 address inside the brackets");
    return PeerAddress{PeerAddress::Family::kIpv6, std::move(*ip), port};
  }
  if (split.host.find(':') != std::string_view::npos) {
    return Bad(text, fmt::format("put an IPv6 address in brackets, e.g. \"[::1]:{}\"", port));
  }
  if (std::optional<std::string> ip = CanonicalIp(AF_INET, split.host)) {
    return PeerAddress{PeerAddress::Family::kIpv4, std::move(*ip), port};
  }
  if (LooksNumeric(split.host)) return Bad(text, "not an IPv4 address");
  // Nothing in the engine resolves names (nginx does it at config time, one peer per
  // address); refusing them here keeps "--test passes" meaning "the daemon starts".
  if (IsHostName(split.host)) {
    return Bad(text, "host names are not resolved; use an IPv4 or [IPv6] address");
  }
  return Bad(text, fmt::format("expected {}", kPeerForms));
}

}  // namespace

std::optional<HostPort> SplitHostPort(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    return HostPort{text.substr(1, close - 1), text.substr(close + 2), true};
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return HostPort{text.substr(0, colon), text.substr(colon + 1), false};
}

std::optional<uint16_t> ParsePortDigits(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t port = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

std::optional<std::string> CanonicalIp(int family, std::string_view host) {
  // inet_pton reads up to a NUL: "127.0.0.1\0x" must not pass as "127.0.0.1".
  if (host.find('\0') != std::string_view::npos) return std::nullopt;
  const std::string text(host);
  unsigned char binary[sizeof(in6_addr)];
  if (inet_pton(family, text.c_str(), binary) != 1) return std::nullopt;
  char out[INET6_ADDRSTRLEN];
  if (inet_ntop(family, binary, out, sizeof(out)) == nullptr) return std::nullopt;
  return std::string(out);
}

std::string BadPeerAddress(std::string_view text, std::string_view why) {
  return fmt::format("bad peer address \"{}\" ({})", text, why);
}

Result<PeerAddress> ParsePeerAddress(std::string_view text) {
  if (text.starts_with(kUnixPrefix)) return ParseUnix(text);
  const std::optional<HostPort> split = SplitHostPort(text);
  if (!split) return Bad(text, fmt::format("expected {}", kPeerForms));
  const std::optional<uint16_t> port = ParsePortDigits(split->port);
  if (!port || *port == 0) return Bad(text, "the port must be a number between 1 and 65535");
  return ParseIpHost(text, *split, *port);
}

std::string PeerAddressName(const PeerAddress& address) {
  switch (address.family) {
    case PeerAddress::Family::kUnix:
      return fmt::format("{}{}", kUnixPrefix, address.host);
    case PeerAddress::Family::kIpv6:
      return fmt::format("[{}]:{}", address.host, address.port);
    case PeerAddress::Family::kIpv4:
      break;
  }
  return fmt::format("{}:{}", address.host, address.port);
}

}  // namespace upcheck
