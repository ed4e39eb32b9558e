#include "probe/probe_target.h"

#include <sys/un.h>
#include <uv.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace upcheck {

namespace {

constexpr std::string_view kUnixPrefix = "unix:";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

Result<ProbeTarget> Fail(std::string_view name, std::string_view why) {
  return Result<ProbeTarget>::Error("bad peer name \"" + std::string(name) +
                                    "\": " + std::string(why));
}

Result<ProbeTarget> ParseUnix(std::string_view name) {
  ProbeTarget target;
  target.name = std::string(name);
  target.kind = ProbeTarget::Kind::kUnix;
  target.path = std::string(name.substr(kUnixPrefix.size()));
  if (target.path.empty()) {
    return Fail(name, "empty unix socket path");
  }
  if (target.path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Fail(name, "unix socket path too long");
  }
  if (target.path.find('\0') != std::string::npos) {
    return Fail(name, "unix socket path contains a NUL byte");
  }
  return target;
}

}  // namespace

Result<ProbeTarget> ParseProbeTarget(std::string_view name, std::optional<int> port_override) {
  if (name.substr(0, kUnixPrefix.size()) == kUnixPrefix) {
    return ParseUnix(name);
  }
  // Greedy `^(.*):\d+$`: the digits run to the end, so the split is at the last ':'.
  size_t colon = name.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == name.size() ||
      !std::all_of(name.begin() + static_cast<std::ptrdiff_t>(colon) + 1, name.end(), IsDigit)) {
    return Fail(name, "no port");
  }
  std::string_view host = name.substr(0, colon);
  std::string_view digits = name.substr(colon + 1);

  int port = 0;
  if (port_override.has_value()) {
    port = *port_override;
  } else if (digits.size() <= 5) {
    for (char c : digits) {
      port = port * 10 + (c - '0');
    }
  } else {
    port = -1;
  }
  if (port < 1 || port > 65535) {
    return Fail(name, "invalid port");
  }

  ProbeTarget target;
  target.name = std::string(name);
  target.kind = ProbeTarget::Kind::kTcp;
  target.port = port;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  target.host = std::string(host);
  int rc = uv_ip4_addr(target.host.c_str(), port, reinterpret_cast<sockaddr_in*>(&target.address));
  if (rc != 0) {
    rc = uv_ip6_addr(target.host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&target.address));
  }
  if (rc != 0 || target.host.empty() || target.host.find('\0') != std::string::npos) {
    return Fail(name, "\"" + target.host +
                          "\" is not an IP address (host names are resolved at config time)");
  }
  return target;
}

Result<ProbeTarget> MakeProbeTarget(std::string name, const PeerAddress& address,
                                    std::optional<int> port_override) {
  ProbeTarget target;
  if (address.family == PeerAddress::Family::kUnix) {
    target.kind = ProbeTarget::Kind::kUnix;
    target.path = address.host;
    target.name = std::move(name);
    return target;
  }
  const int port = port_override.value_or(address.port);
  if (port < 1 || port > 65535) return Fail(name, "invalid port");
  target.port = port;
  target.host = address.host;
  const int rc =
      address.family == PeerAddress::Family::kIpv4
          ? uv_ip4_addr(target.host.c_str(), port, reinterpret_cast<sockaddr_in*>(&target.address))
          : uv_ip6_addr(target.host.c_str(), port,
                        reinterpret_cast<sockaddr_in6*>(&target.address));
  if (rc != 0) return Fail(name, "\"" + target.host + "\" is not an IP address");
  target.name = std::move(name);
  return target;
}

}  // namespace upcheck
