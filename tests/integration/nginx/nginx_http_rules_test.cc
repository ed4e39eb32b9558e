// The HTTP rules of DESIGN §9 through `upcheck_check` in nginx's worker: the built request
// reaches the backend, a body, header or status that breaks its rule turns the peer down
// with its own result in /status.json, /metrics and the log, and proxy_pass then skips it.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "loopback_http_server.h"
#include "nginx_scenario.h"
#include "nginx_tokens.h"
#include "status_json_peer.h"

namespace upcheck::testing {
namespace {

using Server = LoopbackHttpServer;

std::string Answer(int status, const std::string& type, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " Test\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kOkBody = R"({"status":"ok"})";
const std::string kJson = "application/json";

// upcheck_check's words: every rule of §9, two failures to turn a peer down.
const std::string kRules =
    "type=http request_path=/healthz \"request_header=User-Agent: upcheck\" expect_status=2xx "
    "\"expect_header=Content-Type:^application/json\" "
    "\"expect_body=\\\"status\\\":\\s*\\\"ok\\\"\" interval=100 fall=2 rise=1";

std::string FailuresSample(const std::string& peer, const std::string& result) {
  return "upcheck_peer_check_failures_total{upstream=\"foo.com\",peer=\"" + peer +
         "\",role=\"primary\",result=\"" + result + "\"} ";
}

TEST_F(NginxScenario, HttpRulesBodyMismatchTurnsThePeerDown) {
  Server good(Family::kV4, Answer(200, kJson, kOkBody)),
      bad(Family::kV4, Answer(200, kJson, R"({"status":"down"})"));
  ASSERT_TRUE(good.ok() && bad.ok());
  const std::string p0 = good.address(), p1 = bad.address();
  ASSERT_NO_FATAL_FAILURE(Start({{"foo.com", {{p0}, {p1}}, kRules}}));
  ASSERT_TRUE(WaitForLine("healthcheck: peer " + p1 + " is turned down after 2 failure(s)"))
      << nginx_.ErrorLog();
  // The request is the built one; read before any proxied request can reach the backend.
  ASSERT_TRUE(good.WaitForRequests(1, std::chrono::seconds(5)));
  EXPECT_EQ(good.last_request(),
            "GET /healthz HTTP/1.1\r\nHost: foo.com\r\nUser-Agent: upcheck\r\n"
            "Connection: close\r\n\r\n");
  // A probe of each peer after the turn-down: the pages below show its outcome.
  const int probed = Count("healthcheck: peer " + p0 + " was checked to be");
  ASSERT_TRUE(WaitForProbes(p0, probed + 1));
  EXPECT_EQ(Count("healthcheck: peer " + p0 + " was checked to be not ok"), 0);
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " UP", p1 + " DOWN"}, {}));

  const std::vector<std::string> lines = HealthcheckLines(nginx_.ErrorLog());
  const std::string mismatch =
      "[error] healthcheck: body of " + p1 + " does not match expect_body, upstream: \"foo.com\"";
  EXPECT_NE(std::find(lines.begin(), lines.end(), mismatch), lines.end()) << nginx_.ErrorLog();

  const nlohmann::json down = testing::StatusJsonPeer(Fetch("/status.json"), p1);
  EXPECT_EQ(down["last_result"], "body") << down.dump();
  EXPECT_EQ(down["last_error"], "body of " + p1 + " does not match expect_body") << down.dump();
  EXPECT_EQ(down["up"], false) << down.dump();
  const nlohmann::json up = testing::StatusJsonPeer(Fetch("/status.json"), p0);
  EXPECT_EQ(up["last_result"], "ok") << up.dump();
  EXPECT_EQ(up["up"], true) << up.dump();

  const std::string metrics = Fetch("/metrics");
  EXPECT_NE(metrics.find(FailuresSample(p1, "body")), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("upcheck_peer_check_failures_total{upstream=\"foo.com\",peer=\"" + p0),
            std::string::npos)
      << metrics;

  EXPECT_EQ(Picks(6), Events(6, p0));
}

TEST_F(NginxScenario, HttpRulesHeaderAndStatusMismatchesHaveTheirResults) {
  Server good(Family::kV4, Answer(200, kJson, kOkBody)),
      html(Family::kV4, Answer(200, "text/html", kOkBody)),
      unavailable(Family::kV4, Answer(503, kJson, kOkBody));
  ASSERT_TRUE(good.ok() && html.ok() && unavailable.ok());
  const std::string p0 = good.address(), p1 = html.address(), p2 = unavailable.address();
  ASSERT_NO_FATAL_FAILURE(Start({{"foo.com", {{p0}, {p1}, {p2}}, kRules}}));
  ASSERT_TRUE(WaitForLine("healthcheck: peer " + p1 + " is turned down after 2 failure(s)"));
  ASSERT_TRUE(WaitForLine("healthcheck: peer " + p2 + " is turned down after 2 failure(s)"));
  const int probed = Count("healthcheck: peer " + p0 + " was checked to be");
  ASSERT_TRUE(WaitForProbes(p0, probed + 1));
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " UP", p1 + " DOWN", p2 + " DOWN"}, {}));

  const std::string log = nginx_.ErrorLog();
  const std::vector<std::string> lines = HealthcheckLines(log);
  for (const std::string& want :
       {"[error] healthcheck: header Content-Type of " + p1 +
            " does not match expect_header, upstream: \"foo.com\"",
        "[error] healthcheck: bad status code from " + p2 + ": 503, upstream: \"foo.com\""}) {
    EXPECT_NE(std::find(lines.begin(), lines.end(), want), lines.end()) << want << "\n" << log;
  }

  const std::string json = Fetch("/status.json");
  EXPECT_EQ(testing::StatusJsonPeer(json, p1)["last_result"], "header") << json;
  EXPECT_EQ(testing::StatusJsonPeer(json, p1)["last_error"],
            "header Content-Type of " + p1 + " does not match expect_header")
      << json;
  EXPECT_EQ(testing::StatusJsonPeer(json, p2)["last_result"], "status_code") << json;
  EXPECT_EQ(testing::StatusJsonPeer(json, p0)["last_result"], "ok") << json;

  const std::string metrics = Fetch("/metrics");
  EXPECT_NE(metrics.find(FailuresSample(p1, "header")), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(FailuresSample(p2, "status_code")), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find(FailuresSample(p1, "body")), std::string::npos) << metrics;

  EXPECT_EQ(Picks(6), Events(6, p0));
}

}  // namespace
}  // namespace upcheck::testing
