#include "status_view.h"

#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "upcheck/internal/status_details.h"
#include "upcheck/protocol_keys.h"
#include "upcheck/status_pages.h"
#include "worker_table.h"

namespace upcheck::status_tool {

const char* const kStatusHelp =
    R"help(Formats (stdout; errors go to stderr as one line "upcheck-status: ..."):
  text        the /status page (the original's status_page()), byte for byte
  prometheus  the /metrics page: nginx_upstream_status_info lines, then the upcheck_* families
  json        the /status.json document with "worker_pid": 0 (no worker answered), plus a
              newline
The page is rebuilt from the segment alone, as every worker's view converges to it:
  - a peer of an upstream with a check table is DOWN when its d:<u>:p<i> / d:<u>:b<i> key
    is present and not false, once v:<u> holds a number; before anything was published the
    configured `down` flags stand, as they do in a fresh worker
  - an upstream without a check table keeps its configured flags (no worker syncs it)
  - an upstream has checkers when it has a check table AND at least one worker of the table
    is running with checkers and its process exists (kill(pid, 0)); so a daemon whose
    workers are all dead shows "(NO checkers)" and UNKNOWN
Exit status: 0 success; 1 any error (missing segment, layout mismatch, a segment created
without a daemon (no registry), usage error).
--check prints one line on stdout instead of a page, judged over the same view; an
upstream with no peers is not judged:
  OK: 2 upstreams, 7/8 peers up                         exit 0: each upstream has a peer up
  CRITICAL: upstream "foo.com" has no peer up (0/3)     exit 1 (several: joined by "; ")
  UNKNOWN: segment 'x' not found                        exit 2: no view (any error))help";

namespace {
using Entries = std::map<std::string, DictValue, std::less<>>;

// Live entries under `prefix`, by key; Snapshot() leaves the LRU order alone.
Entries EntriesWithPrefix(SharedDict& dict, std::string_view prefix) {
  Entries entries;
  for (DictEntry& e : dict.Snapshot(prefix, 0)) {
    entries.emplace(std::move(e.key), std::move(e.value));
  }
  return entries;
}

// The checker's down rule, over the flags read at once.
bool FlagSaysDown(const Entries& flags, const std::string& key) {
  auto it = flags.find(key);
  return it != flags.end() && IsDownFlag(it->second);
}

// A checker upgrades only to a numeric version (CheckPeersUpdates).
bool Published(const Entries& versions, const std::string& name) {
  auto it = versions.find(VersionKey(name));
  return it != versions.end() && std::holds_alternative<double>(it->second);
}

Status ApplyDownFlags(const Registry& registry, size_t u, const Entries& flags, Upstreams& view) {
  const std::string name(registry.upstream_name(u));
  for (size_t k = 0; k < registry.peer_count(u); ++k) {
    const Registry::Peer p = registry.peer(u, k);
    const bool down = FlagSaysDown(flags, PeerKey(KeyFamily::kDown, name, p.backup, p.id));
    if (Status st = view.SetPeerDown(name, p.backup, p.id, down); !st.ok()) {
      return Status::Error(fmt::format("upstream {}: {}", name, st.message()));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Upstreams> BuildSegmentView(const Registry& registry, SharedDict& dict, bool live_checkers) {
  Result<Upstreams> view = registry.BuildUpstreams();
  if (!view.ok()) return view.status();
  const Entries versions = EntriesWithPrefix(dict, KeyPrefix(KeyFamily::kVersion));
  const Entries flags = EntriesWithPrefix(dict, KeyPrefix(KeyFamily::kDown));
  for (size_t u = 0; u < registry.upstream_count(); ++u) {
    if (!registry.has_check(u)) continue;
    const std::string name(registry.upstream_name(u));
    if (live_checkers) view->AddChecker(name, 1);
    if (!Published(versions, name)) continue;
    if (Status st = ApplyDownFlags(registry, u, flags, *view); !st.ok()) return st;
  }
  return view;
}

Result<std::string> RenderStatus(Segment& segment, Format format) {
  Result<Registry> registry = Registry::Attach(segment);
  if (!registry.ok()) return registry.status();
  const bool live = cli::AnyLiveChecker(registry->Workers());
  Result<Upstreams> view = BuildSegmentView(*registry, segment.dict(), live);
  if (!view.ok()) return view.status();
  switch (format) {
    case Format::kText:
      return StatusPage(*view);
    case Format::kPrometheus: {
      Result<std::string> page = PrometheusStatusPage(*view);
      if (!page.ok()) return page.status();
      return *page + UpcheckMetrics(*view, &*registry);
    }
    case Format::kJson:
      return StatusJson(*view, &*registry, &segment.dict(), /*worker_pid=*/0) + "\n";
  }
  return Result<std::string>::Error("unknown format");
}

}  // namespace upcheck::status_tool
