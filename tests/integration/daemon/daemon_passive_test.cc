// Passive checks in upcheckd (DESIGN §10): a backend whose health path answers 200 but which
// resets every balancer connection turns down after `fall` resets, counted across the
// workers in the dict, and shows it in /status.json and /metrics.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "daemon_process.h"
#include "loopback_http_server.h"
#include "slow_tool.h"
#include "test_names.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

// One request through the balancer, read until the balancer closes.
void Through(int port) { (void)ThroughBalancer(port, "/app"); }

std::optional<DictValue> Key(const std::string& shm, const std::string& key) {
  Result<std::unique_ptr<Segment>> seg = Segment::Open(shm);
  if (!seg.ok()) return std::nullopt;
  Result<std::optional<DictValue>> v = (*seg)->dict().Get(key);
  return v.ok() ? *v : std::nullopt;
}

TEST(DaemonPassiveTest, PeerThatResetsBalancerConnectionsTurnsDownAfterFallResets) {
  ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
  LoopbackHttpServer::Options reset_options;
  reset_options.mode = LoopbackHttpServer::Mode::kReset;
  LoopbackHttpServer resets(reset_options);                     // the peer the balancer reaches
  LoopbackHttpServer health(Family::kV4, StatusResponse(200));  // its health port
  ASSERT_TRUE(resets.ok() && health.ok());
  TestConfig c;
  c.shm_name = UniqueSegmentName("passive");
  c.workers = 2;
  // rise: the active checks, which pass, must not bring it back while the test looks.
  c.upstreams = {{.name = "app",
                  .primary = {resets.address()},
                  .interval_ms = 100,
                  .rise = 1000000,
                  .balancer_listen = "127.0.0.1:0"}};
  // ConfigToml ends inside [upstream.check]: the port line still belongs to it.
  DaemonProcess daemon(ConfigToml(c) + "port = " + std::to_string(health.port()) +
                       "\n\n[upstream.passive]\nfall = 3\n");
  const int status_port = daemon.StatusPort();
  const int port = daemon.BalancerPort("app");
  ASSERT_GT(status_port, 0) << daemon.err();
  ASSERT_GT(port, 0) << daemon.err();
  ASSERT_TRUE(health.WaitForRequests(1, Slow(milliseconds(10000)))) << daemon.err();

  // The balancer reports before it closes the client: once Through returns, it counted.
  for (int i = 1; i <= 2; ++i) {
    Through(port);
    ASSERT_EQ(resets.connections(), i);
    EXPECT_EQ(Key(c.shm_name, "pf:app:p0"), DictValue(static_cast<double>(i)));
    EXPECT_FALSE(Key(c.shm_name, "d:app:p0")) << "up until the fall-th reset";
  }
  Through(port);
  ASSERT_EQ(resets.connections(), 3);
  EXPECT_EQ(Key(c.shm_name, "d:app:p0"), DictValue(true));
  EXPECT_TRUE(daemon.WaitForErr("peer " + resets.address() +
                                " is turned down after 3 passive failure(s), upstream: \"app\""))
      << daemon.err();

  HttpAnswer json = HttpGet(status_port, "/status.json");
  ASSERT_TRUE(json.ok) << json.error;
  EXPECT_NE(json.body.find("\"up\":false"), std::string::npos) << json.body;
  EXPECT_NE(json.body.find("\"passive_failures\":3"), std::string::npos) << json.body;
  HttpAnswer metrics = HttpGet(status_port, "/metrics");
  ASSERT_TRUE(metrics.ok) << metrics.error;
  EXPECT_NE(metrics.body.find("upcheck_peer_passive_failures_total{upstream=\"app\",peer=\"" +
                              resets.address() + "\",role=\"primary\"} 3\n"),
            std::string::npos)
      << metrics.body;

  // Down in every worker's view: the next clients are refused, the peer sees nobody.
  for (int i = 0; i < 4; ++i) Through(port);
  EXPECT_EQ(resets.connections(), 3);
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  (void)Segment::Remove(c.shm_name);
}

}  // namespace
}  // namespace upcheck::testing
