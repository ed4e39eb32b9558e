#include "status_check.h"

#include <memory>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "status_view.h"
#include "upcheck/internal/registry.h"
#include "upcheck/segment.h"
#include "worker_table.h"

namespace upcheck::status_tool {
namespace {

size_t UpCount(std::span<const PeerInfo> peers) {
  size_t up = 0;
  for (const PeerInfo& p : peers) up += p.down ? 0 : 1;
  return up;
}

}  // namespace

CheckVerdict JudgeUpstreams(const Upstreams& view) {
  size_t judged = 0, peers = 0, up = 0;
  std::vector<std::string> failing;
  for (size_t u = 0; u < view.upstream_count(); ++u) {
    const size_t total = view.primary_peers(u).size() + view.backup_peers(u).size();
    if (total == 0) continue;
    const size_t alive = UpCount(view.primary_peers(u)) + UpCount(view.backup_peers(u));
    ++judged;
    peers += total;
    up += alive;
    if (alive == 0) {
      failing.push_back(
          fmt::format("upstream \"{}\" has no peer up (0/{})", view.upstream_name(u), total));
    }
  }
  if (!failing.empty()) {
    return {kCheckCritical, fmt::format("CRITICAL: {}", fmt::join(failing, "; "))};
  }
  return {kCheckOk, fmt::format("OK: {} upstream{}, {}/{} peers up", judged, judged == 1 ? "" : "s",
                                up, peers)};
}

CheckVerdict Unknown(const std::string& why) { return {kCheckUnknown, "UNKNOWN: " + why}; }

CheckVerdict CheckSegment(const std::string& name) {
  Result<std::unique_ptr<Segment>> segment = Segment::Open(name);
  if (!segment.ok()) return Unknown(segment.error());
  Result<Registry> registry = Registry::Attach(**segment);
  if (!registry.ok()) return Unknown(registry.error());
  const bool live = cli::AnyLiveChecker(registry->Workers());
  Result<Upstreams> view = BuildSegmentView(*registry, (*segment)->dict(), live);
  if (!view.ok()) return Unknown(view.error());
  return JudgeUpstreams(*view);
}

}  // namespace upcheck::status_tool
