// A worker that dies or stops between its `d:` write and its publish (protocol.md Q35):
// the flag it wrote is shared by no view and `v:` did not move, so nobody re-reads it.
// The lock holder reconciles such a flag with the shared counters, and a stopping checker
// publishes what its cut-short cycle changed.
#include <gtest/gtest.h>

#include <chrono>

#include "checker_harness.h"
#include "loopback_http_server.h"

namespace upcheck::testing {
namespace {

bool DownKey(CheckerHarness& h, const std::string& key) {
  Result<std::optional<DictValue>> v = h.dict().Get(key);
  return v.ok() && v->has_value();
}

double Version(CheckerHarness& h) {
  Result<std::optional<DictValue>> v = h.dict().Get("v:foo.com");
  if (!v.ok() || !v->has_value()) return 0;
  const double* d = std::get_if<double>(&**v);
  return d == nullptr ? -1 : *d;
}

// The state a worker killed right after turning p0 down leaves behind: its `d:` key and
// its failure streak, no publish. The backend answers 200 (the truth changed since).
TEST(CheckerRecovery, StaleDownFlagOfAHealthyPeerIsDeletedAndPublished) {
  LoopbackHttpServer p(Family::kV4, StatusResponse(200)), q(Family::kV4, StatusResponse(200));
  CheckerHarness h;
  ASSERT_TRUE(h.upstreams().AddUpstream("foo.com", {{p.address()}, {q.address()}}, {}).ok());
  CheckOptions o = h.Options();
  o.interval_ms = 20;
  o.fall = 2;
  o.rise = 3;
  o.valid_statuses = std::vector<double>{200};
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(1));
  ASSERT_EQ(Version(h), 0) << "nothing to publish while every peer is up";

  ASSERT_TRUE(h.dict().Set("d:foo.com:p0", DictValue(true)).ok());
  ASSERT_TRUE(h.dict().Set("nok:foo.com:p0", DictValue(2.0)).ok());
  ASSERT_TRUE(h.dict().Set("ok:foo.com:p0", DictValue(0.0)).ok());
  // rise - 1 successes: the streak is too short to overrule the flag.
  ASSERT_TRUE(h.RunCycles(1 + 2));
  EXPECT_TRUE(DownKey(h, "d:foo.com:p0"));
  EXPECT_EQ(Version(h), 0);
  // The rise-th success: the flag goes, and the version tells every other worker.
  ASSERT_TRUE(h.RunCycles(1 + 3));
  EXPECT_FALSE(DownKey(h, "d:foo.com:p0")) << "a healthy peer stays down in every new view";
  EXPECT_EQ(Version(h), 1);
  Result<std::vector<PeerInfo>> view = h.upstreams().GetPrimaryPeers("foo.com");
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE((*view)[0].down);
  // No view turned, so there is no transition to log.
  EXPECT_FALSE(h.Logged("is turned"));
}

// The same flag on a failing peer is right: it stays, whatever the views say.
TEST(CheckerRecovery, DownFlagOfAFailingPeerStays) {
  LoopbackClosedPort closed;
  LoopbackHttpServer q(Family::kV4, StatusResponse(200));
  CheckerHarness h;
  ASSERT_TRUE(h.upstreams().AddUpstream("foo.com", {{closed.address()}, {q.address()}}, {}).ok());
  CheckOptions o = h.Options();
  o.interval_ms = 20;
  o.fall = 1000;  // never turned down by this view
  o.rise = 1;
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.dict().Set("d:foo.com:p0", DictValue(true)).ok());
  ASSERT_TRUE(h.RunCycles(5));
  EXPECT_TRUE(DownKey(h, "d:foo.com:p0"));
  EXPECT_EQ(Version(h), 0);
}

// SIGTERM in the middle of a cycle: p0 was turned down (its `d:` key written), the probe of
// p1 hangs, and the worker stops. The turn must be published, or no view would read it.
TEST(CheckerRecovery, StoppingCheckerPublishesTheTurnItMade) {
  LoopbackClosedPort closed;
  LoopbackHttpServer hanging({.mode = LoopbackHttpServer::Mode::kHang});
  ASSERT_TRUE(hanging.ok()) << hanging.error();
  CheckerHarness h;
  ASSERT_TRUE(
      h.upstreams().AddUpstream("foo.com", {{closed.address()}, {hanging.address()}}, {}).ok());
  CheckOptions o = h.Options();
  o.interval_ms = 20;
  o.timeout_ms = 60000;
  o.fall = 1;
  int probes = 0;
  h.SetTestHook([&](std::string_view point) { probes += point == "probing"; });
  Result<Checker*> checker = h.Spawn(o);
  ASSERT_TRUE(checker.ok()) << checker.error();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (probes < 2 && std::chrono::steady_clock::now() < deadline) {
    uv_run(h.loop(), UV_RUN_ONCE);
  }
  ASSERT_EQ(probes, 2) << "the probe of p1 never started";
  ASSERT_TRUE(DownKey(h, "d:foo.com:p0"));
  ASSERT_EQ(Version(h), 0) << "published before the cycle ended";
  (*checker)->Stop();
  EXPECT_EQ(Version(h), 1) << "the turn-down was written but never published";
}

// After `v:` vanished (a flush), the republishing worker writes back the flags of the peers
// it knows down by a flag; a peer down only by the config never had a key, so that any
// upgrade turns it up (Q5), and it gets none now either.
TEST(CheckerRecovery, FlushRewritesTheFlagsButNotTheConfiguredDown) {
  LoopbackClosedPort configured_down, failing;
  CheckerHarness h;
  ASSERT_TRUE(
      h.upstreams()
          .AddUpstream("foo.com", {{configured_down.address(), true}, {failing.address()}}, {})
          .ok());
  CheckOptions o = h.Options();
  o.interval_ms = 20;
  o.fall = 1;
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(1));
  ASSERT_TRUE(DownKey(h, "d:foo.com:p1"));
  ASSERT_FALSE(DownKey(h, "d:foo.com:p0"));
  ASSERT_EQ(Version(h), 1);
  h.dict().FlushAll();
  ASSERT_TRUE(h.RunCycles(2));
  EXPECT_EQ(Version(h), 1) << "republished from 1";
  EXPECT_TRUE(DownKey(h, "d:foo.com:p1"));
  EXPECT_FALSE(DownKey(h, "d:foo.com:p0")) << "a configured-down peer got a flag";
}

}  // namespace
}  // namespace upcheck::testing
