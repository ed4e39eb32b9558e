#include "probe/probe_target.h"

#include <uv.h>

#include <string>

#include "upstream/address_syntax.h"

namespace upcheck {

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
  if (port < 1 || port > 65535) {
    return Result<ProbeTarget>::Error(
        BadPeerAddress(name, "the port override must be a number between 1 and 65535"));
  }
  target.port = port;
  target.host = address.host;
  const int rc =
      address.family == PeerAddress::Family::kIpv4
          ? uv_ip4_addr(target.host.c_str(), port, reinterpret_cast<sockaddr_in*>(&target.address))
          : uv_ip6_addr(target.host.c_str(), port,
                        reinterpret_cast<sockaddr_in6*>(&target.address));
  if (rc != 0) return Result<ProbeTarget>::Error(BadPeerAddress(name, "not an IP address"));
  target.name = std::move(name);
  return target;
}

}  // namespace upcheck
