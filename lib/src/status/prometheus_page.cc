// prometheus_status_page() of protocol.md §11.2, oddities included: the summary lines use
// a different label set from the peer lines and come after them.
#include <span>
#include <string_view>

#include "upcheck/status_pages.h"

namespace upcheck {
namespace {

constexpr std::string_view kHeader =
    "# HELP nginx_upstream_status_info The running status of nginx upstream\n"
    "# TYPE nginx_upstream_status_info gauge\n";
constexpr std::string_view kNamePrefix = "nginx_upstream_status_info{name=\"";
constexpr std::string_view kEndpoint = "\",endpoint=\"";
constexpr std::string_view kPeerUp = "\",status=\"UP\",role=\"";
constexpr std::string_view kPeerDown = "\",status=\"DOWN\",role=\"";
constexpr std::string_view kPrimaryUp1 = "PRIMARY\"} 1\n";
constexpr std::string_view kPrimaryUp0 = "PRIMARY\"} 0\n";
constexpr std::string_view kBackupUp1 = "BACKUP\"} 1\n";
constexpr std::string_view kBackupUp0 = "BACKUP\"} 0\n";
constexpr std::string_view kStatusUp = "\",status=\"UP\"} ";
constexpr std::string_view kStatusDown = "\",status=\"DOWN\"} ";
constexpr std::string_view kStatusUnknown = "\",status=\"UNKNOWN\"} ";

// Longest fixed text of one peer's two lines, and of one upstream's three summary lines,
// not counting the names. Used only to size the page.
constexpr size_t kPeerLinesFixed = 2 * kNamePrefix.size() + 2 * kEndpoint.size() + kPeerUp.size() +
                                   kPeerDown.size() + 2 * kPrimaryUp1.size();
constexpr size_t kSummaryFixed = 3 * kNamePrefix.size() + kStatusUp.size() + kStatusDown.size() +
                                 kStatusUnknown.size() + size_t{3} * 2;

bool NoCheckers(int count) { return count == 0; }

size_t PageSize(const Upstreams& upstreams) {
  size_t size = kHeader.size();
  for (size_t i = 0; i < upstreams.upstream_count(); ++i) {
    const size_t name = upstreams.upstream_name(i).size();
    size += kSummaryFixed + 3 * name;
    if (NoCheckers(upstreams.checker_count(i))) continue;
    for (auto peers : {upstreams.primary_peers(i), upstreams.backup_peers(i)}) {
      for (const PeerInfo& peer : peers) size += kPeerLinesFixed + 2 * (name + peer.name.size());
    }
  }
  return size;
}

void AppendPeers(std::string& page, std::string_view upstream, std::span<const PeerInfo> peers,
                 bool backup) {
  const std::string_view up1 = backup ? kBackupUp1 : kPrimaryUp1;
  const std::string_view up0 = backup ? kBackupUp0 : kPrimaryUp0;
  for (const PeerInfo& peer : peers) {
    page.append(kNamePrefix).append(upstream).append(kEndpoint).append(peer.name);
    page.append(kPeerUp).append(peer.down ? up0 : up1);
    page.append(kNamePrefix).append(upstream).append(kEndpoint).append(peer.name);
    page.append(kPeerDown).append(peer.down ? up1 : up0);
  }
}

void AppendSummary(std::string& page, std::string_view upstream, char up, char down, char unknown) {
  page.append(kNamePrefix).append(upstream).append(kStatusUp).push_back(up);
  page.push_back('\n');
  page.append(kNamePrefix).append(upstream).append(kStatusDown).push_back(down);
  page.push_back('\n');
  page.append(kNamePrefix).append(upstream).append(kStatusUnknown).push_back(unknown);
  page.push_back('\n');
}

bool AnyUp(std::span<const PeerInfo> peers) {
  for (const PeerInfo& peer : peers) {
    if (!peer.down) return true;
  }
  return false;
}

}  // namespace

Result<std::string> PrometheusStatusPage(const Upstreams& upstreams) {
  std::string page;
  if (Status status = AppendPrometheusStatusPage(page, upstreams); !status.ok()) {
    return status;
  }
  return page;
}

Status AppendPrometheusStatusPage(std::string& page, const Upstreams& upstreams) {
  upstreams.RunBeforeReadHook();
  page.reserve(page.size() + PageSize(upstreams));
  page.append(kHeader);
  for (size_t i = 0; i < upstreams.upstream_count(); ++i) {
    const std::string_view name = upstreams.upstream_name(i);
    if (NoCheckers(upstreams.checker_count(i))) {
      AppendSummary(page, name, '0', '0', '1');
      continue;
    }
    const std::span<const PeerInfo> primary = upstreams.primary_peers(i);
    const std::span<const PeerInfo> backup = upstreams.backup_peers(i);
    AppendPeers(page, name, primary, /*backup=*/false);
    AppendPeers(page, name, backup, /*backup=*/true);
    // Backup peers count toward the upstream being up.
    const bool any_up = AnyUp(primary) || AnyUp(backup);
    AppendSummary(page, name, any_up ? '1' : '0', any_up ? '0' : '1', '0');
  }
  return Status::Ok();
}

}  // namespace upcheck
