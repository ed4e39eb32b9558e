#include "check/probe_groups.h"

namespace upcheck {

ProbeGroupPlan PlanProbeGroups(uint32_t n, int64_t concurrency) {
  ProbeGroupPlan plan;
  if (n == 0) return plan;
  if (concurrency <= 1) {
    plan.sequential = true;
    plan.groups.push_back({0, n - 1, false});
    return plan;
  }
  uint64_t c = static_cast<uint64_t>(concurrency);
  if (n <= c) {
    plan.single = true;
    for (uint32_t i = 0; i < n; ++i) plan.groups.push_back({i, i, i + 1 < n});
    return plan;
  }
  // Group size g = ceil(n/c); ceil(n/g) - 1 spawned groups of g, then the rest (1..g).
  uint32_t g = static_cast<uint32_t>((n + c - 1) / c);
  uint32_t spawned = (n + g - 1) / g - 1;
  for (uint32_t k = 0; k < spawned; ++k) plan.groups.push_back({k * g, k * g + g - 1, true});
  plan.groups.push_back({spawned * g, n - 1, false});
  return plan;
}

std::string ProbeGroupDebugLine(const ProbeGroupPlan& plan, const ProbeGroup& group, bool backup) {
  std::string line = group.spawned ? "spawn a thread checking " : "check ";
  line += backup ? "backup" : "primary";
  if (plan.single) {
    line += " peer " + std::to_string(group.first);
  } else {
    line += " peers " + std::to_string(group.first) + " to " + std::to_string(group.last);
  }
  return line;
}

}  // namespace upcheck
