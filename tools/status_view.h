// upcheck-status's engine: the status a daemon's workers serve, rebuilt from the segment
// alone (registry + `d:`/`v:` keys + worker table), without asking any worker.
//
// The view is what every worker's own view converges to once its checkers have synced:
// - a peer of an upstream with a check table is down when `d:<u>:p<i>` / `d:<u>:b<i>` is
//   present and not `false` (the checker's rule, Q33), once `v:<u>` holds a number; before
//   anything was published, the configured `down` flags stand (workers start from them);
// - an upstream without a check table keeps its configured flags: no worker syncs it;
// - an upstream counts one checker when it has a check table and at least one worker runs
//   checkers (state running, checkers > 0, its process alive); else "(NO checkers)".
// Reads the dict with Snapshot(), which takes the lock per call but leaves the LRU order as
// it is. Nothing here writes to the segment.
#ifndef UPCHECK_TOOLS_STATUS_VIEW_H_
#define UPCHECK_TOOLS_STATUS_VIEW_H_

#include <cstdint>
#include <string>

#include "upcheck/internal/registry.h"
#include "upcheck/segment.h"
#include "upcheck/shared_dict.h"
#include "upcheck/status.h"
#include "upcheck/upstreams.h"

namespace upcheck::status_tool {

enum class Format : uint8_t { kText, kPrometheus, kJson };

// The text appended to --help: formats, the rules above, exit status.
extern const char* const kStatusHelp;

// The converged view. live_checkers: whether any worker runs checkers (AnyLiveChecker).
Result<Upstreams> BuildSegmentView(const Registry& registry, SharedDict& dict, bool live_checkers);

// The page in `format`, as the daemon's endpoint serves it (/status, /metrics,
// /status.json with "worker_pid": 0), ending in a newline. Errors: no registry in the
// segment ("... it was created without a daemon"), a corrupt registry.
Result<std::string> RenderStatus(Segment& segment, Format format);

}  // namespace upcheck::status_tool

#endif  // UPCHECK_TOOLS_STATUS_VIEW_H_
