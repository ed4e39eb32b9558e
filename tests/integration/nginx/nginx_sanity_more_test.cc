// sanity.t's tests 9-16 and https.t (original-tests.md S-9..S-16, H-1) hosted in nginx.
// S-13's worker-init crash has no nginx counterpart (nothing runs user code before the
// checker): its observable part, an upstream with no checker, is an upstream without
// upcheck_check. S-15's no_timer hook is the worker's first cycle, which runs as soon as
// the worker starts.
#include <gtest/gtest.h>

#include <string>

#include "loopback_http_server.h"
#include "nginx_scenario.h"
#include "nginx_tokens.h"
#include "tls_test_cert.h"

namespace upcheck::testing {
namespace {

using Server = LoopbackHttpServer;

// S-9 and S-10: the group debug lines, without their "healthcheck: " prefix.
Events GroupLines(const std::string& log) {
  Events out;
  for (const std::string& line : HealthcheckLines(log)) {
    std::string text = line.substr(line.find("healthcheck: ") + 13);
    if (text.rfind("spawn a thread checking ", 0) == 0 || text.rfind("check ", 0) == 0) {
      out.push_back(text);
    }
  }
  return out;
}

TEST_F(NginxScenario, S9_ConcurrencyTwoWithFivePrimaries) {
  std::vector<std::unique_ptr<LoopbackClosedPort>> ports;
  UpstreamBlock foo{"foo.com", {}, Check("interval=100 fall=2 concurrency=2")};
  for (int i = 0; i < 6; ++i) {
    ports.push_back(std::make_unique<LoopbackClosedPort>());
    foo.servers.push_back({ports.back()->address(), i == 5 ? "backup" : ""});
  }
  ASSERT_NO_FATAL_FAILURE(Start({foo}));
  ASSERT_TRUE(WaitForLine("check backup peer 0", 4));
  for (const ServerLine& s : foo.servers) {
    EXPECT_TRUE(Logged("healthcheck: peer " + s.address + " is turned down after 2 failure(s)"));
  }
  EXPECT_TRUE(PrefixThenCycles(GroupLines(nginx_.ErrorLog()), {},
                               {"spawn a thread checking primary peers 0 to 2",
                                "check primary peers 3 to 4", "check backup peer 0"},
                               4));
  EXPECT_EQ(nginx_.CountLog(R"(\[alert\])"), 0);
  EXPECT_FALSE(Logged("failed to run healthcheck cycle"));
}

TEST_F(NginxScenario, S10_ConcurrencyThreeWithThreePrimaries) {
  LoopbackClosedPort a, b, c, backup;
  UpstreamBlock foo{"foo.com",
                    {{a.address()}, {b.address()}, {c.address()}, {backup.address(), "backup"}},
                    Check("interval=100 fall=2 concurrency=3")};
  ASSERT_NO_FATAL_FAILURE(Start({foo}));
  ASSERT_TRUE(WaitForLine("check backup peer 0", 4));
  for (const ServerLine& s : foo.servers) {
    EXPECT_TRUE(Logged("healthcheck: peer " + s.address + " is turned down after 2 failure(s)"));
  }
  EXPECT_TRUE(PrefixThenCycles(
      GroupLines(nginx_.ErrorLog()), {},
      {"spawn a thread checking primary peer 0", "spawn a thread checking primary peer 1",
       "check primary peer 2", "check backup peer 0"},
      4));
  EXPECT_EQ(nginx_.CountLog(R"(\[alert\])"), 0);
  EXPECT_FALSE(Logged("failed to run healthcheck cycle"));
}

TEST_F(NginxScenario, S11_NonHttpStatusLine) {
  // Answers the first connection with "<html>\n"; later ones are never answered.
  Server::Options html_once;
  html_once.script = {"<html>\n"};
  html_once.mode = Server::Mode::kHang;
  Server html(html_once), unused(Family::kV4, StatusResponse(503));
  const std::string p0 = html.address();
  ASSERT_NO_FATAL_FAILURE(
      Start({{"foo.com", {{p0}}, Check("interval=100 fall=1 valid_statuses=200")}}));
  ASSERT_TRUE(WaitForLine("healthcheck: peer " + p0 + " is turned down after 1 failure(s)"));
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " DOWN"}, {}));
  EXPECT_EQ(html.last_request(), kHttpReq);
  Events seen;
  for (const std::string& line : HealthcheckLines(nginx_.ErrorLog())) {
    if (line.rfind("[debug]", 0) != 0 || line.find("checked") != std::string::npos) {
      seen.push_back(line);
    }
  }
  seen.resize(std::min<size_t>(seen.size(), 3));
  EXPECT_EQ(
      seen,
      (Events{
          "[error] healthcheck: bad status line from " + p0 + ": <html>, upstream: \"foo.com\"",
          "[debug] healthcheck: peer " + p0 + " was checked to be not ok, upstream: \"foo.com\"",
          "[warn] healthcheck: peer " + p0 +
              " is turned down after 1 failure(s), upstream: \"foo.com\", "
              "primaries up: 0/1"}));
  EXPECT_EQ(Count("bad status line from"), 1);
  EXPECT_EQ(nginx_.CountLog(R"(\[alert\])"), 0);
  EXPECT_FALSE(Logged("bad argument #2 to 'sub'"));
}

TEST_F(NginxScenario, S12_TwoUpstreamsTwoCheckersOneShm) {
  Server s200(Family::kV4, StatusResponse(200)), s404a(Family::kV4, StatusResponse(404)),
      s404b(Family::kV4, StatusResponse(404)), s503(Family::kV4, StatusResponse(503));
  std::string a = s200.address(), b = s404a.address(), c = s404b.address(), d = s503.address();
  std::string check = Check("interval=50 fall=1 valid_statuses=200,503");
  ASSERT_NO_FATAL_FAILURE(Start({{"foo.com", {{a}, {b}, {d, "backup"}}, check},
                                 {"bar.com", {{a}, {b}, {c}, {d, "backup"}}, check}},
                                "2m"));
  // Two cycles of each upstream: d is the last peer of both.
  ASSERT_TRUE(WaitForProbes(d, 4));
  ASSERT_TRUE(WaitForLine("publishing peers version 1", 2));
  EXPECT_EQ(StatusPage(), Page("foo.com", {a + " UP", b + " DOWN"}, {d + " UP"}) + "\n" +
                              Page("bar.com", {a + " UP", b + " DOWN", c + " DOWN"}, {d + " UP"}));
  EXPECT_EQ(Picks(), (Events{a, a}));
  EXPECT_TRUE(Logged("healthcheck: bad status code from " + b));
  EXPECT_TRUE(Logged("healthcheck: bad status code from " + c));
  // Per-upstream keys, locks and versions.
  EXPECT_NE(ShmctlOut({"keys", "nok:foo.com:p1"}), "");
  EXPECT_NE(ShmctlOut({"keys", "nok:bar.com:p2"}), "");
  EXPECT_EQ(ShmctlOut({"get", "v:foo.com"}), "1\n");
  EXPECT_EQ(ShmctlOut({"get", "v:bar.com"}), "1\n");
  EXPECT_EQ(nginx_.CountLog(R"(\[alert\])"), 0);
  EXPECT_FALSE(Logged("failed to run healthcheck cycle"));
}

TEST_F(NginxScenario, S13_UpstreamWithoutChecker) {
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV4, StatusResponse(404)),
      s503(Family::kV4, StatusResponse(503));
  std::string p0 = s200.address(), p1 = s404.address(), b0 = s503.address();
  ASSERT_NO_FATAL_FAILURE(Start({L3(p0, p1, b0, "")}));
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " UP", p1 + " UP"}, {b0 + " UP"}, true));
  EXPECT_EQ(Picks(), (Events{p0, p1}));
  EXPECT_EQ(nginx_.CountLog(R"(\[alert\])"), 0);
  EXPECT_FALSE(Logged("failed to run healthcheck cycle"));
}

TEST_F(NginxScenario, S14_Ipv6Peers) {
  if (!HasIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback";
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV6, StatusResponse(404)),
      s503(Family::kV6, StatusResponse(503));
  std::string p0 = s200.address(), p1 = s404.address();
  std::string b0 = "[::1]:" + std::to_string(s503.port());
  // nginx names the peer by its address, whatever spelling the server line used.
  ASSERT_NO_FATAL_FAILURE(
      Start({{"foo.com",
              {{p0}, {p1}, {"[0:0::1]:" + std::to_string(s503.port()), "backup"}},
              Check("interval=100 fall=2")}}));
  ASSERT_TRUE(WaitForProbes(b0, 5));
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " UP", p1 + " UP"}, {b0 + " UP"}));
  EXPECT_EQ(Picks(), (Events{p0, p1}));
  EXPECT_TRUE(PrefixThenCycles(Tokens(kOkFailPubUpg), {}, {Ok(p0), Ok(p1), Ok(b0)}, 4));
  EXPECT_EQ(nginx_.CountLog(kErrorWarnAlert), 0) << nginx_.ErrorLog();
  EXPECT_FALSE(Logged("was checked to be not ok"));
  EXPECT_FALSE(Logged("failed to run healthcheck cycle"));
}

TEST_F(NginxScenario, S15_MorePeersThanConcurrencyFirstCycle) {
  Server::Options slow;
  slow.response = StatusResponse(200);
  // Far past the timeout, so the probe times out whatever the load (the original: 200 ms
  // against a 100 ms timeout).
  slow.delay = std::chrono::milliseconds(60000);
  Server s_slow(slow);
  LoopbackClosedPort r1, r2, r3, r4, rb;
  std::vector<std::string> p = {s_slow.address(), r1.address(), r2.address(), r3.address(),
                                r4.address()};
  ASSERT_NO_FATAL_FAILURE(
      Start({{"foo.com",
              {{p[0]}, {p[1]}, {p[2]}, {p[3]}, {p[4]}, {rb.address(), "backup"}},
              Check("timeout=1000 fall=1 concurrency=2")}}));
  ASSERT_TRUE(WaitForProbes(rb.address(), 1));
  std::string page = StatusPage();
  EXPECT_EQ(page.find("Upstream foo.com\n    Primary Peers\n        " + p[0] + " DOWN\n"), 0u)
      << page;
  EXPECT_EQ(page.find("NO checkers"), std::string::npos);
  const std::string kRecv = "healthcheck: failed to receive status line from ";
  Events seq;
  for (const std::string& line : HealthcheckLines(nginx_.ErrorLog())) {
    std::string t = line.substr(line.find("healthcheck: "));
    if (t.find("was checked to be") != std::string::npos) {
      size_t at = t.find("peer ") + 5;
      seq.push_back(t.substr(at, t.find(" was") - at) +
                    (t.find("not ok") != std::string::npos ? " FAIL" : " OK"));
    } else if (t.rfind(kRecv, 0) == 0) {
      seq.push_back("receive " + t.substr(kRecv.size(), p[0].size()));
    }
  }
  seq.resize(std::min<size_t>(seq.size(), 7));  // the first cycle's
  EXPECT_EQ(seq, (Events{p[3] + " FAIL", p[4] + " FAIL", "receive " + p[0], p[0] + " FAIL",
                         p[1] + " FAIL", p[2] + " FAIL", rb.address() + " FAIL"}));
  EXPECT_EQ(nginx_.CountLog(R"(\[(alert|emerg)\])"), 0);
  EXPECT_FALSE(Logged("failed to run healthcheck cycle"));
}

TEST_F(NginxScenario, S16_PortOverride) {
  Server s200(Family::kV4, StatusResponse(200)), s404(Family::kV4, StatusResponse(404)),
      healthz(Family::kV4, StatusResponse(200));
  std::string p0 = s200.address(), p1 = s404.address();
  const std::string req = "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n";
  ASSERT_NO_FATAL_FAILURE(
      Start({{"foo.com",
              {{p0}, {p1}},
              std::string("type=http ") +
                  R"("http_req=GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")" +
                  " interval=100 fall=2 port=" + std::to_string(healthz.port())}}));
  ASSERT_TRUE(WaitForProbes(p1, 5));
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " UP", p1 + " UP"}, {}));
  // Stronger than the original's caveat: every probe went to the override port.
  EXPECT_EQ(s200.requests() + s404.requests(), 0);
  EXPECT_GE(healthz.requests(), 10);
  EXPECT_EQ(healthz.last_request(), req);
  // Real traffic still goes to the configured ports.
  EXPECT_EQ(Picks(), (Events{p0, p1}));
  EXPECT_TRUE(PrefixThenCycles(Tokens(kOkFailPubUpg), {}, {Ok(p0), Ok(p1)}, 4));
  EXPECT_EQ(nginx_.CountLog(kErrorWarnAlert), 0) << nginx_.ErrorLog();
  EXPECT_FALSE(Logged("was checked to be not ok"));
}

TEST_F(NginxScenario, H1_HttpsWithoutVerification) {
  auto cert = TlsTestCert::Generate();
  ASSERT_TRUE(cert.ok()) << cert.error();
  Server::Options tls;
  tls.response = StatusResponse(200);
  tls.tls_cert_file = (*cert)->cert_file();
  tls.tls_key_file = (*cert)->key_file();
  Server a(tls), b(tls), c(tls);
  std::string p0 = a.address(), p1 = b.address(), b0 = c.address();
  ASSERT_NO_FATAL_FAILURE(Start({L3(p0, p1, b0,
                                    std::string("type=https ") + kHttpReqWord +
                                        " ssl_verify=false host=localhost interval=100 fall=2")}));
  ASSERT_TRUE(WaitForProbes(b0, 3));
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " UP", p1 + " UP"}, {b0 + " UP"}));
  // Plain HTTP to a TLS port fails, but the peer picked is still reported.
  EXPECT_EQ(Picks(), (Events{p0, p1}));
}

}  // namespace
}  // namespace upcheck::testing
