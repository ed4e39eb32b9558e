// upcheckd counting failures by result: a peer answering 503 to a check that wants 200 and
// a peer refusing connections show up in /metrics and /status.json under their own result,
// the counts adding up to the failures. Real binary, loopback peers, deadlines.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon_process.h"
#include "loopback_http_server.h"
#include "test_names.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

using std::chrono::seconds;

// The value of the one sample that starts with `series` on the page, -1 when none does.
int64_t Sample(const std::string& page, const std::string& series) {
  const size_t at = page.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(page.substr(at + 1 + series.size() + 1));
}

TEST(DaemonFailuresByResultTest, BadStatusAndRefusedConnectCountUnderTheirResults) {
  ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
  LoopbackHttpServer unavailable(Family::kV4, StatusResponse(503));
  LoopbackClosedPort closed;
  ASSERT_TRUE(unavailable.ok() && closed.ok());
  const std::string shm = UniqueSegmentName("fbr");
  const std::string toml = "[shm]\nname = \"" + shm +
                           "\"\nsize = \"256k\"\n\n[daemon]\nworkers = 1\nlog_level = \"notice\"\n"
                           "status_listen = \"127.0.0.1:0\"\n\n[[upstream]]\nname = \"app\"\n"
                           "primary = [\"" +
                           unavailable.address() + "\", \"" + closed.address() +
                           "\"]\n\n[upstream.check]\ntype = \"http\"\n"
                           "http_req = \"GET / HTTP/1.0\\r\\n\\r\\n\"\ninterval = 10\n"
                           "valid_statuses = [200]\nfall = 1\nrise = 1\n";
  DaemonProcess daemon(toml);
  const int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();

  const std::string labels =
      "{upstream=\"app\",peer=\"" + unavailable.address() + "\",role=\"primary\"";
  const std::string refused =
      "{upstream=\"app\",peer=\"" + closed.address() + "\",role=\"primary\"";
  std::string page;
  EXPECT_TRUE(Eventually(
      [&] {
        HttpAnswer a = HttpGet(port, "/metrics");
        page = a.body;
        return a.ok &&
               Sample(page, "upcheck_peer_check_failures_total" + labels +
                                ",result=\"status_code\"}") >= 3 &&
               Sample(page,
                      "upcheck_peer_check_failures_total" + refused + ",result=\"connect\"}") >= 3;
      },
      seconds(15)))
      << page << daemon.err();
  // One page reads each peer's record once: its results add up to its failures.
  EXPECT_EQ(Sample(page, "upcheck_peer_check_failures_total" + labels + ",result=\"status_code\"}"),
            Sample(page, "upcheck_peer_checks_total" + labels + ",result=\"failure\"}"))
      << page;
  EXPECT_EQ(Sample(page, "upcheck_peer_check_failures_total" + refused + ",result=\"connect\"}"),
            Sample(page, "upcheck_peer_checks_total" + refused + ",result=\"failure\"}"))
      << page;
  EXPECT_EQ(page.find("upcheck_peer_check_failures_total" + labels + ",result=\"connect\"}"),
            std::string::npos)
      << page;

  HttpAnswer json = HttpGet(port, "/status.json");
  ASSERT_TRUE(json.ok) << json.error;
  const nlohmann::json doc = nlohmann::json::parse(json.body);
  const nlohmann::json& peer = doc["upstreams"][0]["peers"][0];
  EXPECT_EQ(peer["last_result"], "status_code");
  ASSERT_EQ(peer["failures_by_result"].size(), 1u) << json.body;
  EXPECT_EQ(peer["failures_by_result"]["status_code"], peer["failures"]) << json.body;
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  (void)Segment::Remove(shm);
}

}  // namespace
}  // namespace upcheck::testing
