// upcheckd's /metrics through `promtool check metrics` ($PROMTOOL): peers up, down by a
// refused connect, down by a 503 and by a response cut short, one drained with
// upcheck-shmctl ($UPCHECK_SHMCTL), and an upstream without checks, so that every family
// the page can hold has samples; and a daemon in a fleet (a real redis-server), for the
// upcheck_fleet_* families as winner and, with Redis stopped, alone. promtool must accept
// each page with no lint at all.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "daemon_process.h"
#include "loopback_http_server.h"
#include "promtool_check.h"
#include "redis_server.h"
#include "subprocess.h"
#include "test_names.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

bool Has(const std::string& page, const std::string& text) {
  return page.find(text) != std::string::npos;
}

TEST(DaemonPromtoolTest, MetricsPassPromtoolCheck) {
  ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
  const char* shmctl = std::getenv("UPCHECK_SHMCTL");
  ASSERT_NE(shmctl, nullptr) << "set UPCHECK_SHMCTL";
  LoopbackHttpServer ok(Family::kV4, StatusResponse(200));
  LoopbackHttpServer drained(Family::kV4, StatusResponse(200));
  LoopbackHttpServer unavailable(Family::kV4, StatusResponse(503));
  LoopbackHttpServer cut({.mode = LoopbackHttpServer::Mode::kCloseBeforeLf});
  LoopbackClosedPort closed;
  ASSERT_TRUE(ok.ok() && drained.ok() && unavailable.ok() && cut.ok() && closed.ok());
  TestConfig config;
  config.shm_name = UniqueSegmentName("prom");
  config.upstreams = {
      {.name = "app",
       .primary = {ok.address(), drained.address(), unavailable.address(), closed.address()},
       .backup = {cut.address()},
       .interval_ms = 20},
      {.name = "plain", .primary = {"127.0.0.1:1"}, .check = false},
  };
  DaemonProcess daemon(ConfigToml(config));
  const int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();
  ProcessResult drain = RunProcess(
      {shmctl, "-s", config.shm_name, "peer", "app", drained.address(), "drain", "--reason", "x"});
  ASSERT_EQ(drain.exit_code, 0) << drain.err;

  const std::string failures = "upcheck_peer_check_failures_total{upstream=\"app\",peer=\"";
  std::string page;
  ASSERT_TRUE(Eventually([&] {
    HttpAnswer a = HttpGet(port, "/metrics");
    page = a.body;
    return a.ok && a.status == 200 && Has(page, failures + unavailable.address()) &&
           Has(page, failures + closed.address()) && Has(page, failures + cut.address()) &&
           Has(page, "upcheck_peer_admin_state{upstream=\"app\",peer=\"" + drained.address()) &&
           Has(page, "upcheck_peer_up{upstream=\"app\",peer=\"" + ok.address() +
                         "\",role=\"primary\"} 1");
  })) << page
      << daemon.err();
  EXPECT_TRUE(PromtoolAccepts(page));

  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  (void)Segment::Remove(config.shm_name);
}

// One upstream in a fleet of one host: winner while Redis answers, alone once it is gone.
TEST(DaemonPromtoolTest, FleetFamiliesPassPromtoolCheck) {
  ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
  RedisServer redis;
  ASSERT_TRUE(redis.Start().ok());
  LoopbackHttpServer ok(Family::kV4, StatusResponse(200));
  ASSERT_TRUE(ok.ok());
  TestConfig config;
  config.shm_name = UniqueSegmentName("promfleet");
  config.upstreams = {{.name = "app", .primary = {ok.address()}, .interval_ms = 50},
                      {.name = "plain", .primary = {"127.0.0.1:1"}, .check = false}};
  config.fleet_toml = "[fleet]\nredis = \"" + redis.address() + "\"\nhost_id = \"h1\"";
  DaemonProcess daemon(ConfigToml(config));
  const int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();

  std::string page;
  auto page_has = [&](const std::vector<std::string>& lines) {
    HttpAnswer a = HttpGet(port, "/metrics");
    page = a.body;
    if (!a.ok || a.status != 200) return false;
    for (const std::string& line : lines) {
      if (!Has(page, line)) return false;
    }
    return true;
  };
  ASSERT_TRUE(Eventually([&] {
    // The version: any the winner published (the first publish sets it from its own).
    return page_has({"upcheck_fleet_role{upstream=\"app\",role=\"winner\"} 1\n",
                     "upcheck_fleet_version{upstream=\"app\"} ",
                     "upcheck_fleet_fallback_total{upstream=\"app\"} 0\n"}) &&
           !Has(page, "upcheck_fleet_version{upstream=\"app\"} 0\n");
  })) << page
      << daemon.err();
  EXPECT_FALSE(Has(page, "upcheck_fleet_role{upstream=\"plain\""));
  EXPECT_TRUE(PromtoolAccepts(page));

  redis.Stop();
  ASSERT_TRUE(Eventually([&] {
    return page_has({"upcheck_fleet_role{upstream=\"app\",role=\"alone\"} 1\n",
                     "upcheck_fleet_fallback_total{upstream=\"app\"} 1\n"});
  })) << page
      << daemon.err();
  EXPECT_TRUE(PromtoolAccepts(page));

  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  (void)Segment::Remove(config.shm_name);
}

}  // namespace
}  // namespace upcheck::testing
