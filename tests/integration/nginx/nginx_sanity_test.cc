// sanity.t's tests 1-8 (original-tests.md S-1..S-8) hosted in nginx: the upstream's server
// lines are the peers, upcheck_check spawns the checker, upcheck_status prints the page and
// proxy_pass picks. The original reads at 0.52 s and accepts a range of cycles; these wait
// until the last peer of a cycle has been probed enough times, then assert the exact
// sequence (a cycle may be under way when the log is read).
#include <gtest/gtest.h>

#include <string>

#include "loopback_http_server.h"
#include "nginx_scenario.h"
#include "nginx_tokens.h"
#include "subprocess.h"

namespace upcheck::testing {
namespace {

using Server = LoopbackHttpServer;

TEST_F(NginxScenario, S1_AllGoodStatusIgnoredByDefault) {
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV4, StatusResponse(404)),
      s503(Family::kV4, StatusResponse(503));
  std::string p0 = s200.address(), p1 = s404.address(), b0 = s503.address();
  ASSERT_NO_FATAL_FAILURE(Start({L3(p0, p1, b0, Check("interval=100 fall=2"))}));
  ASSERT_TRUE(WaitForProbes(b0, 5));
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " UP", p1 + " UP"}, {b0 + " UP"}));
  EXPECT_EQ(Picks(), (Events{p0, p1}));
  EXPECT_TRUE(PrefixThenCycles(Tokens(kOkFailPubUpg), {}, {Ok(p0), Ok(p1), Ok(b0)}, 4));
  EXPECT_EQ(nginx_.CountLog(kErrorWarnAlert), 0) << nginx_.ErrorLog();
  EXPECT_FALSE(Logged("was checked to be not ok"));
  EXPECT_FALSE(Logged("failed to run healthcheck cycle"));
}

TEST_F(NginxScenario, S2_BackupPeerNotListening) {
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV4, StatusResponse(404));
  LoopbackClosedPort refused;
  std::string p0 = s200.address(), p1 = s404.address(), b0 = refused.address();
  ASSERT_NO_FATAL_FAILURE(Start({L3(p0, p1, b0, Check("interval=100 fall=2"))}));
  ASSERT_TRUE(WaitForProbes(b0, 5));
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " UP", p1 + " UP"}, {b0 + " DOWN"}));
  EXPECT_EQ(Picks(), (Events{p0, p1}));
  Events cycle = {Ok(p0), Ok(p1), Fail(b0)};
  EXPECT_TRUE(PrefixThenCycles(Tokens(kTransitions), Concat({cycle, cycle, {Down(b0, 2), Pub(1)}}),
                               cycle, 2));
  // Logged in cycles 1 and 2 only: suppressed once the peer is down.
  EXPECT_EQ(Count("healthcheck: failed to connect to " + b0 + ": connection refused"), 2);
  EXPECT_EQ(nginx_.CountLog(R"(\[alert\])"), 0);
  EXPECT_FALSE(Logged("failed to run healthcheck cycle"));
}

TEST_F(NginxScenario, S3_PrimaryPeerNotListening) {
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV4, StatusResponse(404));
  LoopbackClosedPort refused;
  std::string p0 = s200.address(), p1 = refused.address(), b0 = s404.address();
  ASSERT_NO_FATAL_FAILURE(Start({L3(p0, p1, b0, Check("interval=100 fall=2"))}));
  ASSERT_TRUE(WaitForProbes(b0, 5));
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " UP", p1 + " DOWN"}, {b0 + " UP"}));
  EXPECT_EQ(Picks(), (Events{p0, p0}));
  Events cycle = {Ok(p0), Fail(p1), Ok(b0)};
  EXPECT_TRUE(PrefixThenCycles(Tokens({"OK", "FAIL", "DOWN", "UP", "UPG"}),
                               Concat({cycle, {Ok(p0), Fail(p1), Down(p1, 2), Ok(b0)}}), cycle, 2));
  EXPECT_TRUE(Logged("healthcheck: failed to connect to " + p1 + ": connection refused"));
  EXPECT_EQ(Count("publishing peers version 1"), 1);
  EXPECT_EQ(nginx_.CountLog(R"(\[alert\])"), 0);
  EXPECT_FALSE(Logged("failed to run healthcheck cycle"));
}

TEST_F(NginxScenario, S4_BadStatusCode) {
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV4, StatusResponse(404)),
      s503(Family::kV4, StatusResponse(503));
  std::string p0 = s200.address(), p1 = s404.address(), b0 = s503.address();
  ASSERT_NO_FATAL_FAILURE(
      Start({L3(p0, p1, b0, Check("interval=100 fall=2 valid_statuses=200,503"))}));
  ASSERT_TRUE(WaitForProbes(b0, 4));
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " UP", p1 + " DOWN"}, {b0 + " UP"}));
  EXPECT_EQ(Picks(), (Events{p0, p0}));
  EXPECT_TRUE(PrefixThenCycles(Tokens({"OK", "FAIL", "DOWN", "UP", "BADCODE", "UPG"}),
                               Concat({{Ok(p0), BadCode(p1, 404), Fail(p1), Ok(b0)},
                                       {Ok(p0), BadCode(p1, 404), Fail(p1), Down(p1, 2), Ok(b0)}}),
                               {Ok(p0), Fail(p1), Ok(b0)}, 1));
  // The error line comes before the "not ok" line of the same probe, at level error.
  EXPECT_EQ(Count("[error]"), Count("healthcheck: bad status code from " + p1 + ": 404"));
  EXPECT_EQ(nginx_.CountLog(R"(\[alert\])"), 0);
  EXPECT_FALSE(Logged("failed to run healthcheck cycle"));
}

TEST_F(NginxScenario, S5_ReadTimeout) {
  Server::Options slow;
  slow.response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  // Far past the timeout, which is far past what a healthy loopback peer takes on a
  // loaded machine (the original's 100 ms timeout fails healthy peers under load).
  slow.delay = std::chrono::milliseconds(60000);
  Server s_slow(slow), s404(Family::kV4, StatusResponse(404)),
      s503(Family::kV4, StatusResponse(503));
  std::string p0 = s_slow.address(), p1 = s404.address(), b0 = s503.address();
  ASSERT_NO_FATAL_FAILURE(Start({L3(p0, p1, b0, Check("interval=100 timeout=1000 fall=2"))}));
  ASSERT_TRUE(WaitForProbes(b0, 3));
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " DOWN", p1 + " UP"}, {b0 + " UP"}));
  // p0 is down: its real traffic would hang for a minute, so it must not be picked.
  EXPECT_EQ(Picks(), (Events{p1, p1}));
  Events cycle = {Fail(p0), Ok(p1), Ok(b0)};
  EXPECT_TRUE(PrefixThenCycles(Tokens({"OK", "FAIL", "DOWN", "UP", "BADCODE", "UPG"}),
                               Concat({cycle, {Fail(p0), Down(p0, 2), Ok(p1), Ok(b0)}}), cycle, 1));
  EXPECT_TRUE(Logged("healthcheck: failed to receive status line from " + p0 + ": timeout"));
  EXPECT_EQ(nginx_.CountLog(R"(\[alert\])"), 0);
  EXPECT_FALSE(Logged("failed to run healthcheck cycle"));
}

TEST_F(NginxScenario, S6_DownAfterOneFailureUpAfterTwoSuccesses) {
  Server::Options flap;
  flap.script = {StatusResponse(403), StatusResponse(403)};
  flap.response = StatusResponse(200);
  Server s200(Family::kV4, StatusResponse(200)), s_flap(flap),
      s503(Family::kV4, StatusResponse(503));
  std::string p0 = s200.address(), p1 = s_flap.address(), b0 = s503.address();
  ASSERT_NO_FATAL_FAILURE(
      Start({L3(p0, p1, b0, Check("interval=100 fall=1 rise=2 valid_statuses=200,503"))}));
  ASSERT_TRUE(WaitForProbes(b0, 6));
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " UP", p1 + " UP"}, {b0 + " UP"}));
  EXPECT_EQ(Picks(), (Events{p0, p1}));
  Events good = {Ok(p0), Ok(p1), Ok(b0)};
  EXPECT_TRUE(
      PrefixThenCycles(Tokens({"OK", "FAIL", "DOWN", "UP", "BADCODE", "PUB", "UPG"}),
                       Concat({{Ok(p0), BadCode(p1, 403), Fail(p1), Down(p1, 1), Ok(b0), Pub(1)},
                               {Ok(p0), Fail(p1), Ok(b0)},
                               good,
                               {Ok(p0), Ok(p1), Up(p1, 2), Ok(b0), Pub(2)}}),
                       good, 1));
  EXPECT_EQ(nginx_.CountLog(R"(\[alert\])"), 0);
  EXPECT_FALSE(Logged("failed to run healthcheck cycle"));
}

// S-7 and S-8 seed the dict as another worker would have, with the real upcheck-shmctl.
// A checker starts with its worker, so nginx first runs without one (the segment exists
// from the master's start), the keys are set, and a reload adds the checker: the new worker
// finds them at its first cycle, as the original's did after its flush and sets.
class NginxSeededScenario : public NginxScenario {
 protected:
  void StartSeeded(const UpstreamBlock& checked, const std::vector<Words>& sets) {
    UpstreamBlock unchecked = checked;
    unchecked.check.clear();
    ASSERT_NO_FATAL_FAILURE(Start({unchecked}));
    ShmctlOut({"flush"});
    for (const Words& key_value : sets) {
      ShmctlOut(Concat({{"set"}, key_value}));
    }
    Status reloaded = nginx_.Reload(HttpBody({checked}, "1m", "foo.com"));
    ASSERT_TRUE(reloaded.ok()) << reloaded.message();
  }
};

TEST_F(NginxSeededScenario, S7_ForcedUpgradeMakesUpPeersDown) {
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV4, StatusResponse(404)),
      s503(Family::kV4, StatusResponse(503));
  std::string p0 = s200.address(), p1 = s404.address(), b0 = s503.address();
  ASSERT_NO_FATAL_FAILURE(
      StartSeeded(L3(p0, p1, b0, Check("interval=100 fall=2")),
                  {{"v:foo.com", "1"}, {"d:foo.com:b0", "true"}, {"d:foo.com:p1", "true"}}));
  ASSERT_TRUE(WaitForProbes(b0, 5));
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " UP", p1 + " UP"}, {b0 + " UP"}));
  EXPECT_EQ(Picks(), (Events{p0, p1}));
  Events good = {Ok(p0), Ok(p1), Ok(b0)};
  EXPECT_TRUE(PrefixThenCycles(
      Tokens(kTransitions),
      Concat({{Upg(1)}, good, {Ok(p0), Ok(p1), Up(p1, 2), Ok(b0), Up(b0, 2), Pub(2)}}), good, 2));
  EXPECT_EQ(nginx_.CountLog(R"(\[(error|alert)\])"), 0) << nginx_.ErrorLog();
  EXPECT_FALSE(Logged("was checked to be not ok"));
  EXPECT_EQ(ShmctlOut({"get", "v:foo.com"}), "2\n");
  EXPECT_EQ(ShmctlOut({"keys", "d:"}), "");
  EXPECT_FALSE(Logged("failed to run healthcheck cycle"));
}

TEST_F(NginxSeededScenario, S8_ForcedUpgradeMakesConfiguredDownPeerUp) {
  LoopbackClosedPort refused;
  Server s404(Family::kV4, StatusResponse(404)), s503(Family::kV4, StatusResponse(503));
  std::string p0 = refused.address(), p1 = s404.address(), b0 = s503.address();
  ASSERT_NO_FATAL_FAILURE(
      StartSeeded(L3(p0, p1, b0, Check("interval=100 fall=2"), "down"), {{"v:foo.com", "1"}}));
  ASSERT_TRUE(WaitForProbes(b0, 5));
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " DOWN", p1 + " UP"}, {b0 + " UP"}));
  EXPECT_EQ(Picks(), (Events{p1, p1}));
  Events cycle = {Fail(p0), Ok(p1), Ok(b0)};
  EXPECT_TRUE(PrefixThenCycles(
      Tokens(kTransitions),
      Concat({{Upg(1)}, cycle, {Fail(p0), Down(p0, 2), Ok(p1), Ok(b0), Pub(2)}}), cycle, 3));
  EXPECT_EQ(Count("failed to connect to " + p0 + ": connection refused"), 2);
  EXPECT_EQ(nginx_.CountLog(R"(\[alert\])"), 0);
  EXPECT_FALSE(Logged("failed to run healthcheck cycle"));
}

}  // namespace
}  // namespace upcheck::testing
