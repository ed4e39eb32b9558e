// Passive checks in one worker (DESIGN §10): a balancer's reports count a streak in the
// dict, the fall-th failure in a row turns the peer down as a failed probe would, and the
// active checks bring it back. skip_active_when_passing spares a peer that passes traffic.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "checker_harness.h"
#include "loopback_http_server.h"

namespace upcheck::testing {
namespace {

std::optional<double> Number(CheckerHarness& h, const std::string& key) {
  Result<std::optional<DictValue>> v = h.dict().Get(key);
  if (!v.ok() || !v->has_value()) return std::nullopt;
  const double* d = std::get_if<double>(&**v);
  return d == nullptr ? std::nullopt : std::optional<double>(*d);
}

bool Present(CheckerHarness& h, const std::string& key) {
  Result<std::optional<DictValue>> v = h.dict().Get(key);
  return v.ok() && v->has_value();
}

bool ViewDown(CheckerHarness& h, uint32_t id) {
  Result<std::vector<PeerInfo>> view = h.upstreams().GetPrimaryPeers("foo.com");
  return view.ok() && (*view)[id].down;
}

TEST(CheckerPassive, FallFailuresInARowTurnThePeerDownAndRiseProbesBringItBack) {
  LoopbackHttpServer p(Family::kV4, StatusResponse(200)), q(Family::kV4, StatusResponse(200));
  CheckerHarness h;
  ASSERT_TRUE(h.upstreams().AddUpstream("foo.com", {{p.address()}, {q.address()}}, {}).ok());
  CheckOptions o = h.Options();
  o.interval_ms = 20;
  o.fall = 2;
  o.rise = 2;
  o.passive = PassiveOptions{.fall = 3};
  Result<Checker*> checker = h.Spawn(o);
  ASSERT_TRUE(checker.ok()) << checker.error();
  ASSERT_TRUE(h.RunCycles(2));
  Checker& c = **checker;

  // Two failures, a success: the streak starts again.
  EXPECT_EQ(c.ReportPassive(false, 0, PassiveResult::kReset), HealthTransition::kUnchanged);
  EXPECT_EQ(c.ReportPassive(false, 0, PassiveResult::kConnectFailed), HealthTransition::kUnchanged);
  EXPECT_EQ(Number(h, "pf:foo.com:p0"), 2);
  EXPECT_EQ(c.ReportPassive(false, 0, PassiveResult::kOk), HealthTransition::kUnchanged);
  EXPECT_EQ(Number(h, "pf:foo.com:p0"), 0);

  EXPECT_EQ(c.ReportPassive(false, 0, PassiveResult::kReset), HealthTransition::kUnchanged);
  EXPECT_EQ(c.ReportPassive(false, 0, PassiveResult::kConnectTimeout),
            HealthTransition::kUnchanged);
  EXPECT_FALSE(Present(h, "d:foo.com:p0"));
  EXPECT_EQ(c.ReportPassive(false, 0, PassiveResult::kReset), HealthTransition::kTurnedDown);
  EXPECT_TRUE(Present(h, "d:foo.com:p0"));
  EXPECT_EQ(Number(h, "v:foo.com"), 1) << "published at once, for every other worker";
  EXPECT_EQ(Number(h, "ok:foo.com:p0"), 0) << "rise is counted from the turn-down";
  EXPECT_TRUE(ViewDown(h, 0));
  EXPECT_FALSE(ViewDown(h, 1));
  EXPECT_EQ(h.CountLogged("peer " + p.address() +
                          " is turned down after 3 passive failure(s), upstream: \"foo.com\""),
            1);
  // More failures of a down peer change nothing.
  EXPECT_EQ(c.ReportPassive(false, 0, PassiveResult::kReset), HealthTransition::kUnchanged);
  EXPECT_EQ(Number(h, "v:foo.com"), 1);

  // The backend answers its health checks: rise probes bring it back, streak cleared.
  ASSERT_TRUE(h.RunCycles(2 + 2));
  EXPECT_FALSE(ViewDown(h, 0));
  EXPECT_FALSE(Present(h, "d:foo.com:p0"));
  EXPECT_TRUE(h.Logged("peer " + p.address() + " is turned up after 2 success(es)"));
  EXPECT_EQ(Number(h, "pf:foo.com:p0"), 0);
  EXPECT_EQ(c.ReportPassive(false, 0, PassiveResult::kReset), HealthTransition::kUnchanged);
}

TEST(CheckerPassive, WithoutPassiveOptionsReportsAreIgnored) {
  LoopbackHttpServer p(Family::kV4, StatusResponse(200));
  CheckerHarness h;
  ASSERT_TRUE(h.upstreams().AddUpstream("foo.com", {{p.address()}}, {}).ok());
  Result<Checker*> checker = h.Spawn(h.Options());
  ASSERT_TRUE(checker.ok()) << checker.error();
  for (int i = 0; i < 10; ++i) (*checker)->ReportPassive(false, 0, PassiveResult::kReset);
  EXPECT_FALSE(Present(h, "pf:foo.com:p0"));
  EXPECT_FALSE(ViewDown(h, 0));
  // Out of range: nothing, not a crash.
  EXPECT_EQ((*checker)->ReportPassive(true, 7, PassiveResult::kReset),
            HealthTransition::kUnchanged);
}

// A success keeps the peer's probe away while it is fresh; a peer with none is probed.
// The interval is long next to the loop's turns, and probes are counted, not time.
TEST(CheckerPassive, SkipActiveWhenPassingSkipsOnlyPeersThatPassedTraffic) {
  LoopbackHttpServer p(Family::kV4, StatusResponse(200)), q(Family::kV4, StatusResponse(200));
  CheckerHarness h;
  ASSERT_TRUE(h.upstreams().AddUpstream("foo.com", {{p.address()}, {q.address()}}, {}).ok());
  CheckOptions o = h.Options();
  o.interval_ms = 300;
  o.passive = PassiveOptions{.fall = 0, .skip_active_when_passing = true};
  Result<Checker*> checker = h.Spawn(o);
  ASSERT_TRUE(checker.ok()) << checker.error();
  ASSERT_TRUE(h.RunCycles(1));
  ASSERT_EQ(p.requests(), 1);
  ASSERT_EQ(q.requests(), 1);

  for (int cycle = 2; cycle <= 4; ++cycle) {
    (*checker)->ReportPassive(false, 0, PassiveResult::kOk);
    ASSERT_TRUE(h.RunCycles(cycle));
  }
  EXPECT_EQ(p.requests(), 1) << "p passed real traffic before each cycle";
  EXPECT_EQ(q.requests(), 4);
  EXPECT_EQ(h.CountLogged("peer " + p.address() + " passes real traffic: probe skipped"), 3);

  // No report: the success expires and p is probed again.
  ASSERT_TRUE(h.dict().Delete("ps:foo.com:p0").ok());
  ASSERT_TRUE(h.RunCycles(5));
  EXPECT_EQ(p.requests(), 2);
}

}  // namespace
}  // namespace upcheck::testing
