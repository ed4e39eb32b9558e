// upcheck-shmctl's admin commands: `peer` sets an operator's override of one peer (or of
// every peer of an upstream listed at that address), `peers` lists each peer's check state
// beside its admin state. Arguments are validated before the segment is written, so an
// error changes nothing. Same conventions as shmctl_commands.h.
#ifndef UPCHECK_TOOLS_SHMCTL_PEERS_H_
#define UPCHECK_TOOLS_SHMCTL_PEERS_H_

#include <optional>
#include <ostream>
#include <string>

#include "upcheck/segment.h"
#include "upcheck/status.h"

namespace upcheck::shmctl {

struct PeerArgs {
  std::string upstream;
  std::string peer;   // an address as in the config, or primary:N / backup:N
  std::string state;  // down | drain | up | auto
  std::optional<std::string> ttl;
  std::optional<std::string> reason;
};
struct PeersArgs {
  std::optional<std::string> upstream;
  bool json = false;
};

// Sets the admin state and prints one line per peer changed:
// `foo.com 127.0.0.1:12354 primary:0 drain until 2026-11-23T18:10:00.000Z`.
Status RunPeer(Segment& segment, const PeerArgs& args, std::ostream& out);
// Lists UPSTREAM<TAB>PEER<TAB>ROLE:ID<TAB>CHECK<TAB>ADMIN<TAB>EXPIRES<TAB>REASON, with a
// header line; or with --json an array of objects with those facts.
Status RunPeers(Segment& segment, const PeersArgs& args, std::ostream& out);

}  // namespace upcheck::shmctl

#endif  // UPCHECK_TOOLS_SHMCTL_PEERS_H_
