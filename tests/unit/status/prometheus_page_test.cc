// prometheus_status_page(): the exact pages of original-tests.md (P-DOWN, P-EMPTY,
// P-MIXED, P-UP).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "upcheck/status_pages.h"
#include "upcheck/upstreams.h"

namespace upcheck {
namespace {

constexpr const char* kHeader =
    "# HELP nginx_upstream_status_info The running status of nginx upstream\n"
    "# TYPE nginx_upstream_status_info gauge\n";

Upstreams L3() {
  Upstreams upstreams;
  EXPECT_TRUE(
      upstreams
          .AddUpstream("foo.com", {{"127.0.0.1:12354"}, {"127.0.0.1:12355"}}, {{"127.0.0.1:12356"}})
          .ok());
  upstreams.AddChecker("foo.com", 1);
  return upstreams;
}

std::string Page(const Upstreams& upstreams) {
  const Result<std::string> page = PrometheusStatusPage(upstreams);
  EXPECT_TRUE(page.ok());
  return page.ok() ? *page : "";
}

TEST(PrometheusPageTest, PDownEverythingDown) {
  Upstreams upstreams = L3();
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", false, 0, true).ok());
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", false, 1, true).ok());
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", true, 0, true).ok());
  EXPECT_EQ(
      Page(upstreams),
      std::string(kHeader) +
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12354\",status=\"UP\","
          "role=\"PRIMARY\"} 0\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12354\",status="
          "\"DOWN\",role=\"PRIMARY\"} 1\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12355\",status=\"UP\","
          "role=\"PRIMARY\"} 0\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12355\",status="
          "\"DOWN\",role=\"PRIMARY\"} 1\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12356\",status=\"UP\","
          "role=\"BACKUP\"} 0\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12356\",status="
          "\"DOWN\",role=\"BACKUP\"} 1\n"
          "nginx_upstream_status_info{name=\"foo.com\",status=\"UP\"} 0\n"
          "nginx_upstream_status_info{name=\"foo.com\",status=\"DOWN\"} 1\n"
          "nginx_upstream_status_info{name=\"foo.com\",status=\"UNKNOWN\"} 0\n");
}

TEST(PrometheusPageTest, PEmptyIsJustTheHeader) { EXPECT_EQ(Page(Upstreams()), kHeader); }

TEST(PrometheusPageTest, PMixed) {
  Upstreams upstreams;
  ASSERT_TRUE(upstreams.AddUpstream("unknown.com", {{"127.0.0.1:12366"}}, {}).ok());
  ASSERT_TRUE(upstreams
                  .AddUpstream("foo.com",
                               {{"127.0.0.1:12354"}, {"127.0.0.1:12355"}, {"127.0.0.1:12357"}},
                               {{"127.0.0.1:12356"}})
                  .ok());
  upstreams.AddChecker("foo.com", 1);
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", false, 0, true).ok());
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", true, 0, true).ok());
  EXPECT_EQ(
      Page(upstreams),
      std::string(kHeader) +
          "nginx_upstream_status_info{name=\"unknown.com\",status=\"UP\"} 0\n"
          "nginx_upstream_status_info{name=\"unknown.com\",status=\"DOWN\"} 0\n"
          "nginx_upstream_status_info{name=\"unknown.com\",status=\"UNKNOWN\"} 1\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12354\",status=\"UP\","
          "role=\"PRIMARY\"} 0\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12354\",status="
          "\"DOWN\",role=\"PRIMARY\"} 1\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12355\",status=\"UP\","
          "role=\"PRIMARY\"} 1\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12355\",status="
          "\"DOWN\",role=\"PRIMARY\"} 0\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12357\",status=\"UP\","
          "role=\"PRIMARY\"} 1\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12357\",status="
          "\"DOWN\",role=\"PRIMARY\"} 0\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12356\",status=\"UP\","
          "role=\"BACKUP\"} 0\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12356\",status="
          "\"DOWN\",role=\"BACKUP\"} 1\n"
          "nginx_upstream_status_info{name=\"foo.com\",status=\"UP\"} 1\n"
          "nginx_upstream_status_info{name=\"foo.com\",status=\"DOWN\"} 0\n"
          "nginx_upstream_status_info{name=\"foo.com\",status=\"UNKNOWN\"} 0\n");
}

TEST(PrometheusPageTest, PUpEverythingUp) {
  EXPECT_EQ(
      Page(L3()),
      std::string(kHeader) +
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12354\",status=\"UP\","
          "role=\"PRIMARY\"} 1\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12354\",status="
          "\"DOWN\",role=\"PRIMARY\"} 0\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12355\",status=\"UP\","
          "role=\"PRIMARY\"} 1\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12355\",status="
          "\"DOWN\",role=\"PRIMARY\"} 0\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12356\",status=\"UP\","
          "role=\"BACKUP\"} 1\n"
          "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12356\",status="
          "\"DOWN\",role=\"BACKUP\"} 0\n"
          "nginx_upstream_status_info{name=\"foo.com\",status=\"UP\"} 1\n"
          "nginx_upstream_status_info{name=\"foo.com\",status=\"DOWN\"} 0\n"
          "nginx_upstream_status_info{name=\"foo.com\",status=\"UNKNOWN\"} 0\n");
}

TEST(PrometheusPageTest, OnlyBackupsUpCountsAsUp) {
  Upstreams upstreams = L3();
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", false, 0, true).ok());
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", false, 1, true).ok());
  const std::string page = Page(upstreams);
  EXPECT_NE(page.find("nginx_upstream_status_info{name=\"foo.com\",status=\"UP\"} 1\n"),
            std::string::npos);
  EXPECT_NE(page.find("nginx_upstream_status_info{name=\"foo.com\",status=\"DOWN\"} 0\n"),
            std::string::npos);
}

TEST(PrometheusPageTest, NoBackupsHasNoBackupLines) {
  Upstreams upstreams;
  ASSERT_TRUE(upstreams.AddUpstream("foo.com", {{"[0:0::1]:80"}}, {}).ok());
  upstreams.AddChecker("foo.com", 1);
  EXPECT_EQ(Page(upstreams),
            std::string(kHeader) +
                "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"[::1]:80\",status=\"UP\","
                "role=\"PRIMARY\"} 1\n"
                "nginx_upstream_status_info{name=\"foo.com\",endpoint=\"[::1]:80\",status="
                "\"DOWN\",role=\"PRIMARY\"} 0\n"
                "nginx_upstream_status_info{name=\"foo.com\",status=\"UP\"} 1\n"
                "nginx_upstream_status_info{name=\"foo.com\",status=\"DOWN\"} 0\n"
                "nginx_upstream_status_info{name=\"foo.com\",status=\"UNKNOWN\"} 0\n");
}

TEST(PrometheusPageTest, LabelValuesAreNotEscaped) {
  Upstreams upstreams;
  ASSERT_TRUE(upstreams.AddUpstream("a\"b\\c", {{"127.0.0.1:1"}}, {}).ok());
  EXPECT_EQ(Page(upstreams),
            std::string(kHeader) +
                "nginx_upstream_status_info{name=\"a\"b\\c\",status=\"UP\"} 0\n"
                "nginx_upstream_status_info{name=\"a\"b\\c\",status=\"DOWN\"} 0\n"
                "nginx_upstream_status_info{name=\"a\"b\\c\",status=\"UNKNOWN\"} 1\n");
}

TEST(PrometheusPageTest, RunsTheBeforeReadHook) {
  Upstreams upstreams = L3();
  int calls = 0;
  upstreams.SetBeforeReadHook([&] { ++calls; });
  Page(upstreams);
  EXPECT_EQ(calls, 1);
}

TEST(PrometheusPageTest, TenThousandPeers) {
  Upstreams upstreams;
  for (int u = 0; u < 10; ++u) {
    std::vector<PeerConfig> primary;
    for (int i = 0; i < 1000; ++i) {
      primary.push_back({"10." + std::to_string(u) + "." + std::to_string(i / 256) + "." +
                             std::to_string(i % 256) + ":8080",
                         i % 3 == 0});
    }
    const std::string name = "upstream-" + std::to_string(u) + ".example.com";
    ASSERT_TRUE(upstreams.AddUpstream(name, std::move(primary), {{"127.0.0.1:9"}}).ok());
    upstreams.AddChecker(name, 1);
  }
  const auto start = std::chrono::steady_clock::now();
  const std::string page = Page(upstreams);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // The time is a note for the log, not asserted. The size is bounded before rendering, so
  // the page never regrows (a regrowth would double the capacity).
  std::printf("PrometheusStatusPage of 10,010 peers: %zu bytes in %.3f ms\n", page.size(),
              std::chrono::duration<double, std::milli>(elapsed).count());
  EXPECT_LT(page.capacity(), page.size() + page.size() / 8);
  EXPECT_NE(page.find("name=\"upstream-9.example.com\",status=\"UNKNOWN\"} 0\n"),
            std::string::npos);
}

}  // namespace
}  // namespace upcheck
