// Scheduling (DESIGN §10) seen at real loopback backends: probes counted per peer, in
// cycles, never in wall-clock time. One checker in this process (CheckerHarness: every
// cycle takes the lock), then four worker processes sharing one segment (WorkerFleet).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "checker_harness.h"
#include "loopback_http_server.h"
#include "slow_tool.h"
#include "worker_fleet.h"

namespace upcheck::testing {
namespace {

using std::chrono::milliseconds;

CheckOptions Schedule(CheckerHarness& h, int64_t interval, std::optional<int64_t> fastinter,
                      std::optional<int64_t> downinter, int64_t fall) {
  CheckOptions o = h.Options();
  o.interval_ms = interval;
  o.fastinter_ms = fastinter;
  o.downinter_ms = downinter;
  o.fall = fall;
  o.valid_statuses = std::vector<double>{200};
  return o;
}

// The cycles (counted from 1) in which `backend` got a probe, over the next `n` cycles.
std::vector<int> ProbedIn(CheckerHarness& h, const LoopbackHttpServer& backend, int n) {
  std::vector<int> cycles;
  const int first = h.cycles();
  int seen = backend.requests();
  for (int c = 1; c <= n; ++c) {
    EXPECT_TRUE(h.RunCycles(first + c));
    const int now = backend.requests();
    if (now > seen) cycles.push_back(c);
    EXPECT_LE(now - seen, 1) << "two probes of one peer in cycle " << c;
    seen = now;
  }
  return cycles;
}

std::vector<int> Gaps(const std::vector<int>& cycles) {
  std::vector<int> gaps;
  for (size_t i = 1; i < cycles.size(); ++i) gaps.push_back(cycles[i] - cycles[i - 1]);
  return gaps;
}

// interval = 100, downinter = 1000: over 60 cycles the up peer is probed in every one, the
// down peer about every tenth (the cycle nearest its due time: 10 cycles, 11 when a cycle
// ran long).
TEST(CheckerSchedule, DownPeerIsProbedEveryDowninter) {
  CheckerHarness h;
  LoopbackHttpServer up(Family::kV4, StatusResponse(200));
  LoopbackHttpServer down(Family::kV4, StatusResponse(500));
  ASSERT_TRUE(h.upstreams().AddUpstream("foo.com", {{up.address()}, {down.address()}}, {}).ok());
  ASSERT_TRUE(h.Spawn(Schedule(h, 100, std::nullopt, 1000, 1)).ok());
  ASSERT_TRUE(h.RunCycles(1));
  ASSERT_TRUE(h.Logged("is turned down after 1 failure(s)"));

  const int up_before = up.requests();
  const std::vector<int> probed = ProbedIn(h, down, 60);
  EXPECT_EQ(up.requests() - up_before, 60);
  ASSERT_GE(probed.size(), 5u);
  ASSERT_LE(probed.size(), 7u);
  for (int gap : Gaps(probed)) {
    EXPECT_GE(gap, 9);
    EXPECT_LE(gap, 11);
  }
}

// fastinter = 100 below interval = 1000: a failing peer is probed every cycle until fall
// turns it down (the streak), then every interval again (downinter defaults to it); the
// healthy peer every interval throughout.
TEST(CheckerSchedule, FastinterDuringAStreak) {
  CheckerHarness h;
  LoopbackHttpServer healthy(Family::kV4, StatusResponse(200));
  LoopbackHttpServer failing(Family::kV4, StatusResponse(200));
  ASSERT_TRUE(
      h.upstreams().AddUpstream("foo.com", {{healthy.address()}, {failing.address()}}, {}).ok());
  ASSERT_TRUE(h.Spawn(Schedule(h, 1000, 100, std::nullopt, 4)).ok());
  ASSERT_TRUE(h.RunCycles(1));  // both probed once, both steady: due in 10 cycles
  failing.SetResponse(StatusResponse(500));

  const std::vector<int> f = ProbedIn(h, failing, 40);
  // Its first failure comes when its interval is up; the 2nd to 4th in the next cycles.
  ASSERT_GE(f.size(), 4u);
  EXPECT_GE(f[0], 9);
  EXPECT_LE(f[0], 11);
  EXPECT_EQ(f[1], f[0] + 1);
  EXPECT_EQ(f[2], f[0] + 2);
  EXPECT_EQ(f[3], f[0] + 3);
  EXPECT_TRUE(h.Logged("is turned down after 4 failure(s)"));
  // Down: back to one probe per interval (downinter = interval = 1000).
  for (size_t i = 4; i < f.size(); ++i) {
    EXPECT_GE(f[i] - f[i - 1], 9) << i;
    EXPECT_LE(f[i] - f[i - 1], 11) << i;
  }
  EXPECT_LE(f.size(), 7u);
}

// jitter = 50 spreads each due time by up to half the interval: the down peer's gaps, in
// cycles that are jittered too, stay in [3, 30] and are not all near 10 as without jitter.
TEST(CheckerSchedule, JitterSpreadsTheDueTimesWithinItsBound) {
  CheckerHarness h;
  std::vector<int64_t> drawn;  // next_check - last_check of the healthy peer: its cycle
  h.SetOnCheck([&](const PeerCheckEvent& e) {
    if (e.ok()) drawn.push_back(e.next_check_unix_ms - e.unix_ms);
  });
  LoopbackHttpServer up(Family::kV4, StatusResponse(200));
  LoopbackHttpServer down(Family::kV4, StatusResponse(500));
  ASSERT_TRUE(h.upstreams().AddUpstream("foo.com", {{up.address()}, {down.address()}}, {}).ok());
  CheckOptions o = Schedule(h, 100, std::nullopt, 1000, 1);
  o.jitter = 50;
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(1));

  const std::vector<int> probed = ProbedIn(h, down, 120);
  const std::vector<int> gaps = Gaps(probed);
  ASSERT_GE(gaps.size(), 6u);
  bool outside_unjittered = false;
  for (int gap : gaps) {
    EXPECT_GE(gap, 3);
    EXPECT_LE(gap, 30);
    outside_unjittered |= gap < 9 || gap > 11;
  }
  EXPECT_TRUE(outside_unjittered) << "gaps all within 9..11";
  ASSERT_GE(drawn.size(), 100u);
  for (int64_t d : drawn) {
    EXPECT_GE(d, 50);
    EXPECT_LE(d, 150);
  }
  EXPECT_LT(*std::min_element(drawn.begin(), drawn.end()), 70);
  EXPECT_GT(*std::max_element(drawn.begin(), drawn.end()), 130);
}

// Four workers, interval = 100, downinter = 1000: still one probing worker per cycle: the
// up peer gets one probe per probing cycle cluster-wide, the down peer about one per ten.
TEST(CheckerSchedule, FourWorkersStillOneProbingWorkerPerCycle) {
  LoopbackHttpServer up(Family::kV4, StatusResponse(200));
  LoopbackHttpServer down(Family::kV4, StatusResponse(500));
  CheckOptions o;
  o.type = "http";
  o.http_req = "GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n";
  o.interval_ms = SlowInterval(100);
  o.downinter_ms = SlowInterval(1000);
  o.fall = 1;
  o.valid_statuses = std::vector<double>{200};
  WorkerFleet fleet({{"foo.com", {{up.address()}, {down.address()}}, {}}}, o);
  for (int i = 0; i < 4; ++i) fleet.StartWorker();
  auto probing = [](const std::vector<FleetEvent>& ev) {
    return static_cast<int>(std::count_if(
        ev.begin(), ev.end(), [](const FleetEvent& e) { return e.kind == "start" && e.probing; }));
  };
  ASSERT_TRUE(
      fleet.WaitFor([&](const auto& ev) { return probing(ev) >= 61; }, milliseconds(60000)));
  const std::vector<FleetEvent> ev = fleet.events();
  // Every worker ticks, and finds the lock taken: whichever wins it probes (no fairness,
  // protocol.md NG2, so no claim on who).
  std::set<int> ticking;
  int skipped = 0;
  for (const FleetEvent& e : ev) {
    if (e.kind != "start") continue;
    ticking.insert(e.worker);
    skipped += e.probing ? 0 : 1;
  }
  EXPECT_EQ(ticking.size(), 4u);
  EXPECT_GT(skipped, 0);
  // Events reach the test after the probes: match the counts once both have settled.
  const int cycles = probing(ev);
  ASSERT_TRUE(up.WaitForRequests(cycles, Slow(milliseconds(30000))));
  const int up_probes = up.requests(), down_probes = down.requests();
  EXPECT_TRUE(fleet.WaitFor([&](const auto& e) { return probing(e) + 1 >= up_probes; }));
  const int settled = probing(fleet.events());
  EXPECT_GE(up_probes, cycles);
  EXPECT_LE(up_probes, settled + 1) << "a probe without the lock";
  // The first probing cycle probes both; then one per 10 or 11 cycles.
  EXPECT_GE(down_probes, 1 + (cycles - 1) / 12);
  EXPECT_LE(down_probes, 2 + settled / 8);
}

}  // namespace
}  // namespace upcheck::testing
