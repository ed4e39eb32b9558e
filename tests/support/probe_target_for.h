// ProbeTargetFor: a probe target straight from a peer name, the way the checker builds one
// (ParsePeerAddress, then MakeProbeTarget), for tests that probe a name directly.
//
// Header-only; as thread-safe as the two functions it calls.
#ifndef UPCHECK_TESTS_SUPPORT_PROBE_TARGET_FOR_H_
#define UPCHECK_TESTS_SUPPORT_PROBE_TARGET_FOR_H_

#include <optional>
#include <string>
#include <string_view>

#include "probe/probe_target.h"
#include "upcheck/peer_address.h"

namespace upcheck {

inline Result<ProbeTarget> ProbeTargetFor(std::string_view name,
                                          std::optional<int> port_override = std::nullopt) {
  Result<PeerAddress> address = ParsePeerAddress(name);
  if (!address.ok()) return Result<ProbeTarget>::Error(address.error());
  return MakeProbeTarget(std::string(name), *address, port_override);
}

}  // namespace upcheck

#endif  // UPCHECK_TESTS_SUPPORT_PROBE_TARGET_FOR_H_
