// How one cycle splits a peer list into concurrent groups (protocol.md §9).
//
// Groups run at the same time; the peers inside one group are probed in list order. The
// plan also yields the original's debug lines, emitted in group order before each group
// starts. Pure functions; no state.
#ifndef UPCHECK_CHECK_PROBE_GROUPS_H_
#define UPCHECK_CHECK_PROBE_GROUPS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CHECK)
#error "check/probe_groups.h belongs to check/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <string>
#include <vector>

namespace upcheck {

struct ProbeGroup {
  uint32_t first = 0;  // peer ids, inclusive
  uint32_t last = 0;
  bool spawned = false;  // false: the coordinating thread's own (last) group
};

struct ProbeGroupPlan {
  std::vector<ProbeGroup> groups;  // in start order; the last one is not spawned
  bool sequential = false;         // concurrency <= 1: one group, no debug lines
  bool single = false;             // n <= concurrency: one peer per group ("peer i")
};

// n peers at `concurrency`: sequential when concurrency <= 1; one group per peer when
// n <= concurrency; otherwise groups of ceil(n / concurrency) peers (so there may be
// fewer groups than `concurrency`, as in the original). Empty for n == 0.
ProbeGroupPlan PlanProbeGroups(uint32_t n, int64_t concurrency);

// "spawn a thread checking primary peers 0 to 2", "check backup peer 0", ...
std::string ProbeGroupDebugLine(const ProbeGroupPlan& plan, const ProbeGroup& group, bool backup);

}  // namespace upcheck

#endif  // UPCHECK_CHECK_PROBE_GROUPS_H_
