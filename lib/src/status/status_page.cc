// status_page() of protocol.md §11.1.
#include <span>
#include <string_view>

#include "upcheck/status_pages.h"

namespace upcheck {
namespace {

constexpr std::string_view kUpstream = "Upstream ";
constexpr std::string_view kNoCheckers = " (NO checkers)";
constexpr std::string_view kPrimaryHeader = "\n    Primary Peers\n";
constexpr std::string_view kBackupHeader = "    Backup Peers\n";
constexpr std::string_view kPeerIndent = "        ";
constexpr std::string_view kUp = " UP\n";
constexpr std::string_view kDown = " DOWN\n";

// The original prints the marker for a nil or zero count; a negative one prints nothing.
bool NoCheckers(int count) { return count == 0; }

size_t PeersSize(std::span<const PeerInfo> peers) {
  size_t size = 0;
  for (const PeerInfo& peer : peers) {
    size += kPeerIndent.size() + peer.name.size() + (peer.down ? kDown.size() : kUp.size());
  }
  return size;
}

size_t PageSize(const Upstreams& upstreams) {
  size_t size = 0;
  for (size_t i = 0; i < upstreams.upstream_count(); ++i) {
    if (i > 0) size += 1;
    size += kUpstream.size() + upstreams.upstream_name(i).size() + kPrimaryHeader.size() +
            kBackupHeader.size();
    if (NoCheckers(upstreams.checker_count(i))) size += kNoCheckers.size();
    size += PeersSize(upstreams.primary_peers(i)) + PeersSize(upstreams.backup_peers(i));
  }
  return size;
}

void AppendPeers(std::string& page, std::span<const PeerInfo> peers) {
  for (const PeerInfo& peer : peers) {
    page.append(kPeerIndent).append(peer.name).append(peer.down ? kDown : kUp);
  }
}

}  // namespace

std::string StatusPage(const Upstreams& upstreams) {
  std::string page;
  AppendStatusPage(page, upstreams);
  return page;
}

void AppendStatusPage(std::string& page, const Upstreams& upstreams) {
  upstreams.RunBeforeReadHook();
  page.reserve(page.size() + PageSize(upstreams));
  for (size_t i = 0; i < upstreams.upstream_count(); ++i) {
    if (i > 0) page.push_back('\n');
    page.append(kUpstream).append(upstreams.upstream_name(i));
    if (NoCheckers(upstreams.checker_count(i))) page.append(kNoCheckers);
    page.append(kPrimaryHeader);
    AppendPeers(page, upstreams.primary_peers(i));
    page.append(kBackupHeader);
    AppendPeers(page, upstreams.backup_peers(i));
  }
}

}  // namespace upcheck
