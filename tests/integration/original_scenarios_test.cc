// Every scenario of original-tests.md (the original's 21 tests), against real loopback
// backends. Where the original observes at 0.52 s and accepts a range of repetitions,
// these tests run an exact number of cycles inside that range (an event, not a sleep) and
// assert the exact sequence.
#include <gtest/gtest.h>

#include "checker_harness.h"
#include "expected_pages.h"
#include "loopback_http_server.h"
#include "tls_test_cert.h"
#include "upcheck/status_pages.h"

namespace upcheck::testing {
namespace {

using std::chrono::milliseconds;
using Server = LoopbackHttpServer;
using Events = std::vector<std::string>;

const std::set<std::string> kOkFailPubUpg = {"OK", "FAIL", "PUB", "UPG"};
const std::set<std::string> kTransitions = {"OK", "FAIL", "DOWN", "UP", "PUB", "UPG"};

std::string Short(const std::string& name) { return name.substr(9); }  // "127.0.0.1:P" -> ":P"
std::string Ok(const std::string& n) { return "OK(" + Short(n) + ")"; }
std::string Fail(const std::string& n) { return "FAIL(" + Short(n) + ")"; }
std::string Down(const std::string& n, int k) {
  return "DOWN(" + Short(n) + "," + std::to_string(k) + ")";
}
std::string Up(const std::string& n, int k) {
  return "UP(" + Short(n) + "," + std::to_string(k) + ")";
}
std::string BadCode(const std::string& n, int c) {
  return "BADCODE(" + Short(n) + "," + std::to_string(c) + ")";
}

void ExpectNoErrorsOrWarnings(const CheckerHarness& h) {
  for (const LogLine& l : h.log()) {
    EXPECT_TRUE(l.level != LogLevel::kError && l.level != LogLevel::kWarn) << l.text;
  }
}
void ExpectNoCycleFailure(const CheckerHarness& h) {
  EXPECT_FALSE(h.Logged("failed to run healthcheck cycle"));
}

// The standard layout L3: foo.com = primary p0, p1, backup b0.
struct L3 {
  std::string p0, p1, b0;
  void Add(CheckerHarness& h, bool p0_down = false) {
    ASSERT_TRUE(h.upstreams().AddUpstream("foo.com", {{p0, p0_down}, {p1}}, {{b0}}).ok());
  }
};

CheckOptions Fast(CheckerHarness& h, int fall) {
  CheckOptions o = h.Options();
  o.interval_ms = 100;
  o.fall = fall;
  return o;
}

TEST(OriginalScenarios, S1_AllGoodStatusIgnoredByDefault) {
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV4, StatusResponse(404)),
      s503(Family::kV4, StatusResponse(503));
  CheckerHarness h;
  L3 l{s200.address(), s404.address(), s503.address()};
  l.Add(h);
  ASSERT_TRUE(h.Spawn(Fast(h, 2)).ok());
  ASSERT_TRUE(h.RunCycles(5));
  EXPECT_EQ(StatusPage(h.upstreams()),
            Page("foo.com", {l.p0 + " UP", l.p1 + " UP"}, {l.b0 + " UP"}));
  EXPECT_EQ(h.Picks(), (Events{l.p0, l.p1}));
  EXPECT_EQ(Join(h.Events(kOkFailPubUpg)), Join(Repeat({Ok(l.p0), Ok(l.p1), Ok(l.b0)}, 5)));
  ExpectNoErrorsOrWarnings(h);
  EXPECT_FALSE(h.Logged("was checked to be not ok"));
  ExpectNoCycleFailure(h);
}

TEST(OriginalScenarios, S2_BackupPeerNotListening) {
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV4, StatusResponse(404));
  LoopbackClosedPort refused;
  CheckerHarness h;
  L3 l{s200.address(), s404.address(), refused.address()};
  l.Add(h);
  ASSERT_TRUE(h.Spawn(Fast(h, 2)).ok());
  ASSERT_TRUE(h.RunCycles(5));
  EXPECT_EQ(StatusPage(h.upstreams()),
            Page("foo.com", {l.p0 + " UP", l.p1 + " UP"}, {l.b0 + " DOWN"}));
  EXPECT_EQ(h.Picks(), (Events{l.p0, l.p1}));
  Events cycle = {Ok(l.p0), Ok(l.p1), Fail(l.b0)};
  EXPECT_EQ(Join(h.Events(kTransitions)),
            Join(Concat({cycle, cycle, {Down(l.b0, 2), "PUB(1)"}, Repeat(cycle, 3)})));
  // Logged in cycles 1 and 2 only: suppressed once the peer is down.
  EXPECT_EQ(h.CountLogged("healthcheck: failed to connect to " + l.b0 + ": connection refused"), 2);
  ExpectNoCycleFailure(h);
}

TEST(OriginalScenarios, S3_PrimaryPeerNotListening) {
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV4, StatusResponse(404));
  LoopbackClosedPort refused;
  CheckerHarness h;
  L3 l{s200.address(), refused.address(), s404.address()};
  l.Add(h);
  ASSERT_TRUE(h.Spawn(Fast(h, 2)).ok());
  ASSERT_TRUE(h.RunCycles(5));
  EXPECT_EQ(StatusPage(h.upstreams()),
            Page("foo.com", {l.p0 + " UP", l.p1 + " DOWN"}, {l.b0 + " UP"}));
  EXPECT_EQ(h.Picks(), (Events{l.p0, l.p0}));
  Events cycle = {Ok(l.p0), Fail(l.p1), Ok(l.b0)};
  EXPECT_EQ(
      Join(h.Events({"OK", "FAIL", "DOWN", "UP", "UPG"})),
      Join(Concat({cycle, {Ok(l.p0), Fail(l.p1), Down(l.p1, 2), Ok(l.b0)}, Repeat(cycle, 3)})));
  EXPECT_TRUE(h.Logged("healthcheck: failed to connect to " + l.p1 + ": connection refused"));
  EXPECT_EQ(h.CountLogged("publishing peers version 1"), 1);
  ExpectNoCycleFailure(h);
}

TEST(OriginalScenarios, S4_BadStatusCode) {
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV4, StatusResponse(404)),
      s503(Family::kV4, StatusResponse(503));
  CheckerHarness h;
  L3 l{s200.address(), s404.address(), s503.address()};
  l.Add(h);
  CheckOptions o = Fast(h, 2);
  o.valid_statuses = std::vector<double>{200, 503};
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(5));
  EXPECT_EQ(StatusPage(h.upstreams()),
            Page("foo.com", {l.p0 + " UP", l.p1 + " DOWN"}, {l.b0 + " UP"}));
  EXPECT_EQ(h.Picks(), (Events{l.p0, l.p0}));
  EXPECT_EQ(Join(h.Events({"OK", "FAIL", "DOWN", "UP", "BADCODE", "UPG"})),
            Join(Concat({{Ok(l.p0), BadCode(l.p1, 404), Fail(l.p1), Ok(l.b0)},
                         {Ok(l.p0), BadCode(l.p1, 404), Fail(l.p1), Down(l.p1, 2), Ok(l.b0)},
                         Repeat({Ok(l.p0), Fail(l.p1), Ok(l.b0)}, 3)})));
  ExpectNoCycleFailure(h);
}

TEST(OriginalScenarios, S5_ReadTimeout) {
  Server::Options slow;
  slow.response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  // Far past the timeout, which is far past what a healthy loopback peer takes even on a
  // loaded machine (a 100 ms timeout failed the healthy peers under load).
  slow.delay = milliseconds(60000);
  Server s_slow(slow), s404(Family::kV4, StatusResponse(404)),
      s503(Family::kV4, StatusResponse(503));
  CheckerHarness h;
  L3 l{s_slow.address(), s404.address(), s503.address()};
  l.Add(h);
  CheckOptions o = Fast(h, 2);
  o.timeout_ms = 1000;
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(3, "foo.com", std::chrono::seconds(60)));
  EXPECT_EQ(StatusPage(h.upstreams()),
            Page("foo.com", {l.p0 + " DOWN", l.p1 + " UP"}, {l.b0 + " UP"}));
  EXPECT_EQ(h.Picks(), (Events{l.p1, l.p1}));
  Events cycle = {Fail(l.p0), Ok(l.p1), Ok(l.b0)};
  EXPECT_EQ(Join(h.Events({"OK", "FAIL", "DOWN", "UP", "BADCODE", "UPG"})),
            Join(Concat({cycle, {Fail(l.p0), Down(l.p0, 2), Ok(l.p1), Ok(l.b0)}, cycle})));
  EXPECT_TRUE(h.Logged("healthcheck: failed to receive status line from " + l.p0 + ": timeout"));
  ExpectNoCycleFailure(h);
}

TEST(OriginalScenarios, S6_DownAfterOneFailureUpAfterTwoSuccesses) {
  Server::Options flap;
  flap.script = {StatusResponse(403), StatusResponse(403)};
  flap.response = StatusResponse(200);
  Server s200(Family::kV4, StatusResponse(200)), s_flap(flap),
      s503(Family::kV4, StatusResponse(503));
  CheckerHarness h;
  L3 l{s200.address(), s_flap.address(), s503.address()};
  l.Add(h);
  CheckOptions o = Fast(h, 1);
  o.rise = 2;
  o.valid_statuses = std::vector<double>{200, 503};
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(6));
  EXPECT_EQ(StatusPage(h.upstreams()),
            Page("foo.com", {l.p0 + " UP", l.p1 + " UP"}, {l.b0 + " UP"}));
  EXPECT_EQ(h.Picks(), (Events{l.p0, l.p1}));
  Events good = {Ok(l.p0), Ok(l.p1), Ok(l.b0)};
  EXPECT_EQ(
      Join(h.Events({"OK", "FAIL", "DOWN", "UP", "BADCODE", "PUB", "UPG"})),
      Join(Concat({{Ok(l.p0), BadCode(l.p1, 403), Fail(l.p1), Down(l.p1, 1), Ok(l.b0), "PUB(1)"},
                   {Ok(l.p0), Fail(l.p1), Ok(l.b0)},
                   good,
                   {Ok(l.p0), Ok(l.p1), Up(l.p1, 2), Ok(l.b0), "PUB(2)"},
                   Repeat(good, 2)})));
  ExpectNoCycleFailure(h);
}

TEST(OriginalScenarios, S7_ForcedUpgradeMakesUpPeersDown) {
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV4, StatusResponse(404)),
      s503(Family::kV4, StatusResponse(503));
  CheckerHarness h;
  L3 l{s200.address(), s404.address(), s503.address()};
  l.Add(h);
  h.dict().FlushAll();
  ASSERT_TRUE(h.dict().Set("v:foo.com", DictValue(1.0)).ok());
  ASSERT_TRUE(h.dict().Set("d:foo.com:b0", DictValue(true)).ok());
  ASSERT_TRUE(h.dict().Set("d:foo.com:p1", DictValue(true)).ok());
  ASSERT_TRUE(h.Spawn(Fast(h, 2)).ok());
  ASSERT_TRUE(h.RunCycles(5));
  EXPECT_EQ(StatusPage(h.upstreams()),
            Page("foo.com", {l.p0 + " UP", l.p1 + " UP"}, {l.b0 + " UP"}));
  EXPECT_EQ(h.Picks(), (Events{l.p0, l.p1}));
  Events good = {Ok(l.p0), Ok(l.p1), Ok(l.b0)};
  EXPECT_EQ(Join(h.Events(kTransitions)),
            Join(Concat({{"UPG(1)"},
                         good,
                         {Ok(l.p0), Ok(l.p1), Up(l.p1, 2), Ok(l.b0), Up(l.b0, 2), "PUB(2)"},
                         Repeat(good, 3)})));
  EXPECT_FALSE(h.LoggedAtLevel(LogLevel::kError));
  EXPECT_FALSE(h.Logged("was checked to be not ok"));
  EXPECT_EQ(**h.dict().Get("v:foo.com"), DictValue(2.0));
  EXPECT_TRUE(h.dict().Snapshot("d:").empty());
  ExpectNoCycleFailure(h);
}

TEST(OriginalScenarios, S8_ForcedUpgradeMakesConfiguredDownPeerUp) {
  LoopbackClosedPort refused;
  Server s404(Family::kV4, StatusResponse(404)), s503(Family::kV4, StatusResponse(503));
  CheckerHarness h;
  L3 l{refused.address(), s404.address(), s503.address()};
  l.Add(h, /*p0_down=*/true);
  h.dict().FlushAll();
  ASSERT_TRUE(h.dict().Set("v:foo.com", DictValue(1.0)).ok());
  ASSERT_TRUE(h.Spawn(Fast(h, 2)).ok());
  ASSERT_TRUE(h.RunCycles(6));
  EXPECT_EQ(StatusPage(h.upstreams()),
            Page("foo.com", {l.p0 + " DOWN", l.p1 + " UP"}, {l.b0 + " UP"}));
  EXPECT_EQ(h.Picks(), (Events{l.p1, l.p1}));
  Events cycle = {Fail(l.p0), Ok(l.p1), Ok(l.b0)};
  EXPECT_EQ(Join(h.Events(kTransitions)),
            Join(Concat({{"UPG(1)"},
                         cycle,
                         {Fail(l.p0), Down(l.p0, 2), Ok(l.p1), Ok(l.b0), "PUB(2)"},
                         Repeat(cycle, 4)})));
  EXPECT_EQ(h.CountLogged("failed to connect to " + l.p0 + ": connection refused"), 2);
  ExpectNoCycleFailure(h);
}

// S-9 and S-10: nothing listens; the group debug lines repeat every cycle.
std::vector<std::string> GroupLines(const CheckerHarness& h) {
  std::vector<std::string> out;
  for (const LogLine& l : h.log()) {
    if (l.text.find("healthcheck: spawn a thread checking ") == 0 ||
        l.text.find("healthcheck: check ") == 0) {
      out.push_back(l.text.substr(13));
    }
  }
  return out;
}

TEST(OriginalScenarios, S9_ConcurrencyTwoWithFivePrimaries) {
  std::vector<std::unique_ptr<LoopbackClosedPort>> ports;
  std::vector<PeerConfig> primary;
  for (int i = 0; i < 5; ++i) {
    ports.push_back(std::make_unique<LoopbackClosedPort>());
    primary.push_back({ports.back()->address()});
  }
  LoopbackClosedPort backup;
  CheckerHarness h;
  ASSERT_TRUE(h.upstreams().AddUpstream("foo.com", primary, {{backup.address()}}).ok());
  CheckOptions o = Fast(h, 2);
  o.concurrency = 2;
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(5));
  for (const auto& p : primary)
    EXPECT_TRUE(h.Logged("healthcheck: peer " + p.address + " is turned down after 2 failure(s)"));
  EXPECT_TRUE(
      h.Logged("healthcheck: peer " + backup.address() + " is turned down after 2 failure(s)"));
  EXPECT_EQ(GroupLines(h), Repeat({"spawn a thread checking primary peers 0 to 2",
                                   "check primary peers 3 to 4", "check backup peer 0"},
                                  5));
  ExpectNoCycleFailure(h);
}

TEST(OriginalScenarios, S10_ConcurrencyThreeWithThreePrimaries) {
  LoopbackClosedPort a, b, c, backup;
  CheckerHarness h;
  ASSERT_TRUE(h.upstreams()
                  .AddUpstream("foo.com", {{a.address()}, {b.address()}, {c.address()}},
                               {{backup.address()}})
                  .ok());
  CheckOptions o = Fast(h, 2);
  o.concurrency = 3;
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(5));
  for (auto* p : {&a, &b, &c, &backup}) {
    EXPECT_TRUE(
        h.Logged("healthcheck: peer " + p->address() + " is turned down after 2 failure(s)"));
  }
  EXPECT_EQ(GroupLines(h), Repeat({"spawn a thread checking primary peer 0",
                                   "spawn a thread checking primary peer 1", "check primary peer 2",
                                   "check backup peer 0"},
                                  5));
  ExpectNoCycleFailure(h);
}

TEST(OriginalScenarios, S11_NonHttpStatusLine) {
  Server html(Family::kV4, "<html>\n");
  CheckerHarness h;
  ASSERT_TRUE(h.upstreams().AddUpstream("foo.com", {{html.address()}}, {}).ok());
  CheckOptions o = Fast(h, 1);
  o.valid_statuses = std::vector<double>{200};
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(1));
  EXPECT_EQ(html.last_request(), "GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(StatusPage(h.upstreams()), Page("foo.com", {html.address() + " DOWN"}, {}));
  std::vector<std::string> texts;
  for (const LogLine& l : h.log()) {
    if (l.level != LogLevel::kDebug || l.text.find("checked") != std::string::npos)
      texts.push_back(l.text);
  }
  EXPECT_EQ(
      texts,
      (std::vector<std::string>{
          "healthcheck: bad status line from " + html.address() + ": <html>, upstream: \"foo.com\"",
          "healthcheck: peer " + html.address() +
              " was checked to be not ok, upstream: \"foo.com\"",
          "healthcheck: peer " + html.address() +
              " is turned down after 1 failure(s), upstream: \"foo.com\", primaries up: 0/1"}));
  EXPECT_EQ(h.CountLogged("bad status line from"), 1);
  for (const LogLine& l : h.log()) {
    if (l.text.find("bad status line") != std::string::npos) {
      EXPECT_EQ(l.level, LogLevel::kError);
    }
  }
}

TEST(OriginalScenarios, S12_TwoUpstreamsTwoCheckersOneShm) {
  Server s200(Family::kV4, StatusResponse(200)), s404a(Family::kV4, StatusResponse(404)),
      s404b(Family::kV4, StatusResponse(404)), s503(Family::kV4, StatusResponse(503));
  CheckerHarness h(2 << 20);
  std::string a = s200.address(), b = s404a.address(), c = s404b.address(), d = s503.address();
  ASSERT_TRUE(h.upstreams().AddUpstream("foo.com", {{a}, {b}}, {{d}}).ok());
  ASSERT_TRUE(h.upstreams().AddUpstream("bar.com", {{a}, {b}, {c}}, {{d}}).ok());
  for (const char* u : {"foo.com", "bar.com"}) {
    CheckOptions o = h.Options(u);
    o.interval_ms = 50;
    o.fall = 1;
    o.valid_statuses = std::vector<double>{200, 503};
    ASSERT_TRUE(h.Spawn(o).ok());
  }
  ASSERT_TRUE(h.RunCycles(2, "foo.com"));
  ASSERT_TRUE(h.RunCycles(2, "bar.com"));
  EXPECT_EQ(StatusPage(h.upstreams()),
            Page("foo.com", {a + " UP", b + " DOWN"}, {d + " UP"}) + "\n" +
                Page("bar.com", {a + " UP", b + " DOWN", c + " DOWN"}, {d + " UP"}));
  EXPECT_EQ(h.Picks("foo.com"), (Events{a, a}));
  EXPECT_TRUE(h.Logged("healthcheck: bad status code from " + b));
  EXPECT_TRUE(h.Logged("healthcheck: bad status code from " + c));
  // Per-upstream keys, locks and versions.
  EXPECT_TRUE(h.dict().Get("nok:foo.com:p1")->has_value());
  EXPECT_TRUE(h.dict().Get("nok:bar.com:p2")->has_value());
  EXPECT_EQ(**h.dict().Get("v:foo.com"), DictValue(1.0));
  EXPECT_EQ(**h.dict().Get("v:bar.com"), DictValue(1.0));
  ExpectNoCycleFailure(h);
}

TEST(OriginalScenarios, S13_NoCheckerWhenInitFailed) {
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV4, StatusResponse(404)),
      s503(Family::kV4, StatusResponse(503));
  CheckerHarness h;
  L3 l{s200.address(), s404.address(), s503.address()};
  l.Add(h);
  // The worker's init failed before any checker was spawned.
  EXPECT_EQ(StatusPage(h.upstreams()),
            Page("foo.com", {l.p0 + " UP", l.p1 + " UP"}, {l.b0 + " UP"}, /*no_checkers=*/true));
  EXPECT_EQ(h.Picks(), (Events{l.p0, l.p1}));
}

TEST(OriginalScenarios, S14_Ipv6Peers) {
  if (!HasIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback";
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV6, StatusResponse(404)),
      s503(Family::kV6, StatusResponse(503));
  CheckerHarness h;
  std::string p0 = s200.address(), p1 = s404.address();
  std::string b0_config = "[0:0::1]:" + std::to_string(s503.port());
  std::string b0 = "[::1]:" + std::to_string(s503.port());
  ASSERT_TRUE(h.upstreams().AddUpstream("foo.com", {{p0}, {p1}}, {{b0_config}}).ok());
  ASSERT_TRUE(h.Spawn(Fast(h, 2)).ok());
  ASSERT_TRUE(h.RunCycles(5));
  EXPECT_EQ(StatusPage(h.upstreams()), Page("foo.com", {p0 + " UP", p1 + " UP"}, {b0 + " UP"}));
  EXPECT_EQ(h.Picks(), (Events{p0, p1}));
  EXPECT_EQ(Join(h.Events(kOkFailPubUpg)),
            Join(Repeat({Ok(p0), "OK(" + p1 + ")", "OK(" + b0 + ")"}, 5)));
  ExpectNoErrorsOrWarnings(h);
  EXPECT_FALSE(h.Logged("was checked to be not ok"));
}

TEST(OriginalScenarios, S15_MorePeersThanConcurrencySynchronousFirstCycle) {
  Server::Options slow;
  slow.response = StatusResponse(200);
  slow.delay = milliseconds(200);
  Server s_slow(slow);
  LoopbackClosedPort r1, r2, r3, r4, rb;
  CheckerHarness h;
  std::vector<std::string> p = {s_slow.address(), r1.address(), r2.address(), r3.address(),
                                r4.address()};
  ASSERT_TRUE(
      h.upstreams()
          .AddUpstream("foo.com", {{p[0]}, {p[1]}, {p[2]}, {p[3]}, {p[4]}}, {{rb.address()}})
          .ok());
  CheckOptions o = h.Options();
  o.timeout_ms = 100;
  o.fall = 1;
  o.concurrency = 2;
  o.no_timer = true;
  ASSERT_TRUE(h.Spawn(o).ok());  // one whole cycle runs before Spawn returns
  std::string page = StatusPage(h.upstreams());
  EXPECT_EQ(page.find("Upstream foo.com\n    Primary Peers\n        " + p[0] + " DOWN\n"), 0u)
      << page;
  EXPECT_EQ(page.find("NO checkers"), std::string::npos);
  const std::string kRecv = "healthcheck: failed to receive status line from ";
  std::vector<std::string> seq;
  for (const LogLine& l : h.log()) {
    const std::string& t = l.text;
    if (t.find("was checked to be") != std::string::npos) {
      seq.push_back(t.substr(t.find("peer ") + 5, t.find(" was") - t.find("peer ") - 5) +
                    (t.find("not ok") != std::string::npos ? " FAIL" : " OK"));
    } else if (t.rfind(kRecv, 0) == 0) {
      seq.push_back("receive " + t.substr(kRecv.size(), p[0].size()));
    }
  }
  EXPECT_EQ(seq, (std::vector<std::string>{p[3] + " FAIL", p[4] + " FAIL", "receive " + p[0],
                                           p[0] + " FAIL", p[1] + " FAIL", p[2] + " FAIL",
                                           rb.address() + " FAIL"}));
}

TEST(OriginalScenarios, S16_PortOverride) {
  // The peers' own ports are closed (bound, never listening: no other process's probe can
  // land there either), so a probe that ignored the override would fail with "connection
  // refused"; every probe must reach healthz instead.
  LoopbackClosedPort c0, c1;
  Server healthz(Family::kV4, StatusResponse(200));
  CheckerHarness h;
  std::string p0 = c0.address(), p1 = c1.address();
  ASSERT_TRUE(h.upstreams().AddUpstream("foo.com", {{p0}, {p1}}, {}).ok());
  CheckOptions o = Fast(h, 2);
  o.http_req = "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n";
  o.port = healthz.port();
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(5));
  EXPECT_EQ(StatusPage(h.upstreams()), Page("foo.com", {p0 + " UP", p1 + " UP"}, {}));
  EXPECT_EQ(h.Picks(), (Events{p0, p1}));
  EXPECT_EQ(Join(h.Events(kOkFailPubUpg)), Join(Repeat({Ok(p0), Ok(p1)}, 5)));
  // Stronger than the original's caveat: the probes really went to the override port
  // (a sixth cycle may have begun before the loop stopped).
  EXPECT_GE(healthz.requests(), 10);
  EXPECT_EQ(healthz.last_request(), o.http_req);
  ExpectNoErrorsOrWarnings(h);
}

// Q3's lost update, fixed: another worker publishes its own change between this worker's
// d: write and its incr. The original adopts incr's result, matches the shared version and
// never reads the other change; here the publisher upgrades at once and sees it.
TEST(OriginalScenarios, Q3_ConcurrentPublishIsNotLost) {
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV4, StatusResponse(404)),
      s200b(Family::kV4, StatusResponse(200));
  CheckerHarness h;
  L3 l{s200.address(), s404.address(), s200b.address()};
  l.Add(h);
  bool raced = false;
  h.SetTestHook([&](std::string_view point) {
    if (point != "before_publish" || raced) return;
    raced = true;
    // "Another worker" turns the backup down and publishes first.
    ASSERT_TRUE(h.dict().Set("d:foo.com:b0", DictValue(true)).ok());
    ASSERT_TRUE(h.dict().Add("v:foo.com", DictValue(0.0)).ok());
    ASSERT_TRUE(h.dict().Incr("v:foo.com", 1).ok());
  });
  CheckOptions o = Fast(h, 1);
  o.valid_statuses = std::vector<double>{200};
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(1));
  ASSERT_TRUE(raced);
  EXPECT_EQ(**h.dict().Get("v:foo.com"), DictValue(2.0));
  // p1 turned down by this worker, b0 by the other one: both in this worker's view.
  EXPECT_EQ(StatusPage(h.upstreams()),
            Page("foo.com", {l.p0 + " UP", l.p1 + " DOWN"}, {l.b0 + " DOWN"}));
  EXPECT_EQ(Join(h.Events({"DOWN", "PUB", "UPG"})), Join({Down(l.p1, 1), "PUB(1)", "UPG(2)"}));
}

TEST(OriginalScenarios, H1_HttpsWithoutVerification) {
  auto cert = TlsTestCert::Generate();
  ASSERT_TRUE(cert.ok()) << cert.error();
  Server::Options tls;
  tls.response = StatusResponse(200);
  tls.tls_cert_file = (*cert)->cert_file();
  tls.tls_key_file = (*cert)->key_file();
  Server a(tls), b(tls), c(tls);
  CheckerHarness h;
  L3 l{a.address(), b.address(), c.address()};
  l.Add(h);
  CheckOptions o = Fast(h, 2);
  o.type = "https";
  o.ssl_verify = false;
  o.host = "localhost";
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(3));
  EXPECT_EQ(StatusPage(h.upstreams()),
            Page("foo.com", {l.p0 + " UP", l.p1 + " UP"}, {l.b0 + " UP"}));
  EXPECT_EQ(h.Picks(), (Events{l.p0, l.p1}));
  EXPECT_EQ(a.requests(), 3);
}

TEST(OriginalScenarios, PDown_EverythingDown) {
  Server a(Family::kV4, StatusResponse(500)), b(Family::kV4, StatusResponse(500)),
      c(Family::kV4, StatusResponse(500));
  CheckerHarness h;
  L3 l{a.address(), b.address(), c.address()};
  l.Add(h);
  CheckOptions o = Fast(h, 2);
  o.valid_statuses = std::vector<double>{200};
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(3));
  EXPECT_EQ(*PrometheusStatusPage(h.upstreams()),
            kPromHeader + PromPeer("foo.com", l.p0, false, "PRIMARY") +
                PromPeer("foo.com", l.p1, false, "PRIMARY") +
                PromPeer("foo.com", l.b0, false, "BACKUP") + PromSummary("foo.com", 0, 1, 0));
}

TEST(OriginalScenarios, PEmpty_NoUpstreams) {
  CheckerHarness h;
  auto spawned = h.Spawn(h.Options("not_found"));
  ASSERT_FALSE(spawned.ok());
  EXPECT_EQ(spawned.error(), "failed to get primary peers: upstream not found");
  EXPECT_EQ(*PrometheusStatusPage(h.upstreams()), kPromHeader);
}

TEST(OriginalScenarios, PMixed_OneUpstreamWithoutChecker) {
  Server s500a(Family::kV4, StatusResponse(500)), s200a(Family::kV4, StatusResponse(200)),
      s500b(Family::kV4, StatusResponse(500)), s200b(Family::kV4, StatusResponse(200)),
      s200c(Family::kV4, StatusResponse(200));
  CheckerHarness h;
  ASSERT_TRUE(h.upstreams().AddUpstream("unknown.com", {{s200c.address()}}, {}).ok());
  ASSERT_TRUE(h.upstreams()
                  .AddUpstream("foo.com", {{s500a.address()}, {s200a.address()}, {s200b.address()}},
                               {{s500b.address()}})
                  .ok());
  CheckOptions o = Fast(h, 2);
  o.valid_statuses = std::vector<double>{200};
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(3));
  EXPECT_EQ(*PrometheusStatusPage(h.upstreams()),
            kPromHeader + PromSummary("unknown.com", 0, 0, 1) +
                PromPeer("foo.com", s500a.address(), false, "PRIMARY") +
                PromPeer("foo.com", s200a.address(), true, "PRIMARY") +
                PromPeer("foo.com", s200b.address(), true, "PRIMARY") +
                PromPeer("foo.com", s500b.address(), false, "BACKUP") +
                PromSummary("foo.com", 1, 0, 0));
}

TEST(OriginalScenarios, PUp_EverythingUp) {
  Server a(Family::kV4, StatusResponse(200)), b(Family::kV4, StatusResponse(200)),
      c(Family::kV4, StatusResponse(200));
  CheckerHarness h;
  L3 l{a.address(), b.address(), c.address()};
  l.Add(h);
  CheckOptions o = Fast(h, 2);
  o.valid_statuses = std::vector<double>{200};
  ASSERT_TRUE(h.Spawn(o).ok());
  ASSERT_TRUE(h.RunCycles(3));
  EXPECT_EQ(*PrometheusStatusPage(h.upstreams()),
            kPromHeader + PromPeer("foo.com", l.p0, true, "PRIMARY") +
                PromPeer("foo.com", l.p1, true, "PRIMARY") +
                PromPeer("foo.com", l.b0, true, "BACKUP") + PromSummary("foo.com", 1, 0, 0));
}

}  // namespace
}  // namespace upcheck::testing
