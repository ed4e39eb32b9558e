// Cycles that overlap: a cycle that outlives the lock's TTL (interval - 1 ms) lets another
// worker take the lock and probe the same peers at the same time (protocol.md NG1, kept).
// Found by chaos_load at 10,000 peers: the slow worker's write-back of `d:` keys (the Q24
// fix) must not undo a transition the other worker made meanwhile.
#include <gtest/gtest.h>

#include "checker_harness.h"
#include "loopback_http_server.h"

namespace upcheck::testing {
namespace {

bool DownKey(CheckerHarness& h, const std::string& key) {
  Result<std::optional<DictValue>> v = h.dict().Get(key);
  return v.ok() && v->has_value();
}

TEST(CheckerOverlap, WriteBackLeavesAPeerThatAnotherWorkerTurnedUp) {
  LoopbackHttpServer p(Family::kV4, StatusResponse(500)), q(Family::kV4, StatusResponse(200));
  CheckerHarness h;
  ASSERT_TRUE(h.upstreams().AddUpstream("foo.com", {{p.address()}, {q.address()}}, {}).ok());
  CheckOptions o = h.Options();
  o.interval_ms = 50;
  o.fall = 1;
  o.rise = 2;
  o.valid_statuses = std::vector<double>{200};
  // In cycle 2, between the probe of p (failing, as this worker's view has it) and that of
  // q, "another worker" probes p twice with success and turns it up: its `ok:` counts 2,
  // `nok:` is reset, the `d:` key deleted; it publishes at the end of its own cycle.
  int probes = 0;
  h.SetTestHook([&](std::string_view point) {
    if (point != "probing" || ++probes != 4) return;
    ASSERT_TRUE(h.dict().Set("ok:foo.com:p0", DictValue(2.0)).ok());
    ASSERT_TRUE(h.dict().Set("nok:foo.com:p0", DictValue(0.0)).ok());
    ASSERT_TRUE(h.dict().Delete("d:foo.com:p0").ok());
  });
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(1));
  ASSERT_TRUE(DownKey(h, "d:foo.com:p0")) << "p0 turned down after one failure";
  ASSERT_TRUE(h.RunCycles(2));
  ASSERT_EQ(probes, 4);
  EXPECT_FALSE(DownKey(h, "d:foo.com:p0"))
      << "the lock holder wrote p0's d: key back over the other worker's turn-up";
  // Q24 still holds: with p0 failing again (fall failures in a row), a d: key that went
  // missing is written back by the lock holder, whose view has p0 down.
  ASSERT_TRUE(h.RunCycles(3));
  EXPECT_TRUE(DownKey(h, "d:foo.com:p0"));
  EXPECT_FALSE(h.Logged("failed to run healthcheck cycle"));
}

}  // namespace
}  // namespace upcheck::testing
