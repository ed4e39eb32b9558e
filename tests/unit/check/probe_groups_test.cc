// The concurrency split of protocol.md §9, with its debug lines.
#include "check/probe_groups.h"

#include <gtest/gtest.h>

namespace upcheck {
namespace {

std::string Describe(uint32_t n, int64_t c) {
  ProbeGroupPlan plan = PlanProbeGroups(n, c);
  std::string s;
  for (const ProbeGroup& g : plan.groups) {
    s += (s.empty() ? "" : ", ") + std::string(g.spawned ? "spawn " : "current ") +
         std::to_string(g.first) + "-" + std::to_string(g.last);
  }
  return s;
}

TEST(ProbeGroups, TheOriginalsTable) {
  EXPECT_EQ(Describe(5, 2), "spawn 0-2, current 3-4");             // S-9
  EXPECT_EQ(Describe(3, 3), "spawn 0-0, spawn 1-1, current 2-2");  // S-10
  EXPECT_EQ(Describe(1, 2), "current 0-0");
  EXPECT_EQ(Describe(4, 3), "spawn 0-1, current 2-3");  // only 2-way
  EXPECT_EQ(Describe(7, 3), "spawn 0-2, spawn 3-5, current 6-6");
  EXPECT_EQ(Describe(10, 4), "spawn 0-2, spawn 3-5, spawn 6-8, current 9-9");
  ProbeGroupPlan p = PlanProbeGroups(100, 30);  // 25-way, not 30
  ASSERT_EQ(p.groups.size(), 25u);
  EXPECT_EQ(p.groups.back().first, 96u);
  EXPECT_EQ(p.groups.back().last, 99u);
}

TEST(ProbeGroups, SequentialAndEmpty) {
  EXPECT_TRUE(PlanProbeGroups(0, 5).groups.empty());
  for (int64_t c : {-3, 0, 1}) {
    ProbeGroupPlan p = PlanProbeGroups(4, c);
    EXPECT_TRUE(p.sequential);
    EXPECT_EQ(Describe(4, c), "current 0-3");
  }
}

TEST(ProbeGroups, EveryPeerExactlyOnceInOrder) {
  for (uint32_t n = 1; n < 300; ++n) {
    for (int64_t c = 2; c < 80; ++c) {
      ProbeGroupPlan p = PlanProbeGroups(n, c);
      uint32_t next = 0;
      for (const ProbeGroup& g : p.groups) {
        ASSERT_EQ(g.first, next) << n << "/" << c;
        ASSERT_GE(g.last, g.first);
        next = g.last + 1;
      }
      ASSERT_EQ(next, n);
      ASSERT_LE(p.groups.size(), static_cast<size_t>(c));
      ASSERT_FALSE(p.groups.back().spawned);
    }
  }
}

TEST(ProbeGroups, DebugLines) {
  ProbeGroupPlan p = PlanProbeGroups(5, 2);
  EXPECT_EQ(ProbeGroupDebugLine(p, p.groups[0], false),
            "spawn a thread checking primary peers 0 to 2");
  EXPECT_EQ(ProbeGroupDebugLine(p, p.groups[1], false), "check primary peers 3 to 4");
  ProbeGroupPlan s = PlanProbeGroups(3, 3);
  EXPECT_EQ(ProbeGroupDebugLine(s, s.groups[1], true), "spawn a thread checking backup peer 1");
  EXPECT_EQ(ProbeGroupDebugLine(s, s.groups[2], true), "check backup peer 2");
}

}  // namespace
}  // namespace upcheck
