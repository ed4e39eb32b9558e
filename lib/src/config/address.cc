#include "config/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstdint>
#include <optional>

#include <fmt/format.h>

#include "upcheck/config.h"

namespace upcheck {
namespace {

constexpr std::string_view kPeerForms = "IPv4:port, [IPv6]:port or unix:/path";
constexpr std::string_view kListenForms =
    "IPv4:port, [IPv6]:port or a port alone for 127.0.0.1, e.g. \"127.0.0.1:8080\"";

// Decimal 0..65535, digits only.
std::optional<uint16_t> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t port = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

// inet_ntop's spelling of an IP literal, or nullopt if `host` is not one.
std::optional<std::string> CanonicalIp(int family, std::string_view host) {
  const std::string text(host);
  unsigned char addr[sizeof(in6_addr)];
  if (inet_pton(family, text.c_str(), addr) != 1) return std::nullopt;
  char out[INET6_ADDRSTRLEN];
  if (inet_ntop(family, addr, out, sizeof(out)) == nullptr) return std::nullopt;
  return std::string(out);
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

// A host and a port, split at "]:" for bracketed IPv6 or at the last ':' otherwise.
struct SplitAddress {
  std::string_view host;  // without brackets
  std::string_view port;
  bool bracketed = false;
};

std::optional<SplitAddress> Split(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    return SplitAddress{text.substr(1, close - 1), text.substr(close + 2), true};
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return SplitAddress{text.substr(0, colon), text.substr(colon + 1), false};
}

Result<std::string> CanonicalUnixAddress(std::string_view text) {
  const std::string_view path = text.substr(5);
  const auto bad = [&](std::string_view why) {
    return Result<std::string>::Error(fmt::format("bad peer address \"{}\" ({})", text, why));
  };
  if (path.empty() || path.front() != '/') {
    return bad("unix: needs an absolute path, e.g. \"unix:/run/app.sock\"");
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return bad(
        fmt::format("unix socket path longer than {} bytes", sizeof(sockaddr_un::sun_path) - 1));
  }
  for (const char c : path) {
    if (static_cast<unsigned char>(c) < 0x20) return bad("control character in the path");
  }
  return std::string(text);
}

}  // namespace

namespace config {

Result<std::string> CanonicalPeerAddress(std::string_view text) {
  if (text.starts_with("unix:")) return CanonicalUnixAddress(text);
  const auto bad = [&](std::string_view why) {
    return Result<std::string>::Error(fmt::format("bad peer address \"{}\" ({})", text, why));
  };
  const std::optional<SplitAddress> split = Split(text);
  if (!split) return bad(fmt::format("expected {}", kPeerForms));
  const std::optional<uint16_t> port = ParsePort(split->port);
  if (!port || *port == 0) return bad("the port must be a number between 1 and 65535");
  if (split->bracketed) {
    const std::optional<std::string> ip = CanonicalIp(AF_INET6, split->host);
    if (!ip) return bad("not an IPv6 address inside the brackets");
    return fmt::format("[{}]:{}", *ip, *port);
  }
  if (split->host.find(':') != std::string_view::npos) {
    return bad(fmt::format("put an IPv6 address in brackets, e.g. \"[::1]:{}\"", *port));
  }
  if (const std::optional<std::string> ip = CanonicalIp(AF_INET, split->host)) {
    return fmt::format("{}:{}", *ip, *port);
  }
  if (LooksNumeric(split->host)) return bad("not an IPv4 address");
  // Nothing in the engine resolves names (nginx does it at config time, one peer per
  // address); refusing them here keeps "--test passes" meaning "the daemon starts".
  if (IsHostName(split->host)) {
    return bad("host names are not resolved; use an IPv4 or [IPv6] address");
  }
  return bad(fmt::format("expected {}", kPeerForms));
}

}  // namespace config

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return Result<ListenAddress>::Error(fmt::format("bad listen address \"{}\" ({})", text, why));
  };
  // A port alone listens on loopback only: reaching the status pages from other hosts takes
  // an explicit address such as "0.0.0.0:8080" (issue 6, item 7).
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos) {
    const std::optional<uint16_t> port = ParsePort(text);
    if (!port) return bad("the port must be a number between 0 and 65535");
    return ListenAddress{"127.0.0.1", *port, false};
  }
  const std::optional<SplitAddress> split = Split(text);
  if (!split) return bad(kListenForms);
  const std::optional<uint16_t> port = ParsePort(split->port);
  if (!port) return bad("the port must be a number between 0 and 65535");
  const int family = split->bracketed ? AF_INET6 : AF_INET;
  const std::optional<std::string> ip = CanonicalIp(family, split->host);
  if (!ip) return bad(kListenForms);
  return ListenAddress{*ip, *port, split->bracketed};
}

}  // namespace upcheck
