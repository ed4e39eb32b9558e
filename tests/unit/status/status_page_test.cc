// status_page(): the exact pages of original-tests.md.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "upcheck/status_pages.h"
#include "upcheck/upstreams.h"

namespace upcheck {
namespace {

// Layout L3 of original-tests.md, with one checker.
Upstreams L3(int checkers = 1) {
  Upstreams upstreams;
  EXPECT_TRUE(
      upstreams
          .AddUpstream("foo.com", {{"127.0.0.1:12354"}, {"127.0.0.1:12355"}}, {{"127.0.0.1:12356"}})
          .ok());
  upstreams.AddChecker("foo.com", checkers);
  return upstreams;
}

TEST(StatusPageTest, S1AllUp) {
  EXPECT_EQ(StatusPage(L3()),
            "Upstream foo.com\n"
            "    Primary Peers\n"
            "        127.0.0.1:12354 UP\n"
            "        127.0.0.1:12355 UP\n"
            "    Backup Peers\n"
            "        127.0.0.1:12356 UP\n");
}

TEST(StatusPageTest, S2BackupDown) {
  Upstreams upstreams = L3();
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", true, 0, true).ok());
  EXPECT_EQ(StatusPage(upstreams),
            "Upstream foo.com\n"
            "    Primary Peers\n"
            "        127.0.0.1:12354 UP\n"
            "        127.0.0.1:12355 UP\n"
            "    Backup Peers\n"
            "        127.0.0.1:12356 DOWN\n");
}

TEST(StatusPageTest, S12TwoUpstreamsBlankLineBetween) {
  Upstreams upstreams;
  ASSERT_TRUE(
      upstreams
          .AddUpstream("foo.com", {{"127.0.0.1:12354"}, {"127.0.0.1:12355"}}, {{"127.0.0.1:12356"}})
          .ok());
  ASSERT_TRUE(upstreams
                  .AddUpstream("bar.com",
                               {{"127.0.0.1:12354"}, {"127.0.0.1:12355"}, {"127.0.0.1:12357"}},
                               {{"127.0.0.1:12356"}})
                  .ok());
  upstreams.AddChecker("foo.com", 1);
  upstreams.AddChecker("bar.com", 1);
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", false, 1, true).ok());
  ASSERT_TRUE(upstreams.SetPeerDown("bar.com", false, 1, true).ok());
  ASSERT_TRUE(upstreams.SetPeerDown("bar.com", false, 2, true).ok());
  EXPECT_EQ(StatusPage(upstreams),
            "Upstream foo.com\n"
            "    Primary Peers\n"
            "        127.0.0.1:12354 UP\n"
            "        127.0.0.1:12355 DOWN\n"
            "    Backup Peers\n"
            "        127.0.0.1:12356 UP\n"
            "\n"
            "Upstream bar.com\n"
            "    Primary Peers\n"
            "        127.0.0.1:12354 UP\n"
            "        127.0.0.1:12355 DOWN\n"
            "        127.0.0.1:12357 DOWN\n"
            "    Backup Peers\n"
            "        127.0.0.1:12356 UP\n");
}

TEST(StatusPageTest, S13NoCheckers) {
  EXPECT_EQ(StatusPage(L3(/*checkers=*/0)),
            "Upstream foo.com (NO checkers)\n"
            "    Primary Peers\n"
            "        127.0.0.1:12354 UP\n"
            "        127.0.0.1:12355 UP\n"
            "    Backup Peers\n"
            "        127.0.0.1:12356 UP\n");
}

TEST(StatusPageTest, NegativeCheckerCountPrintsNoMarker) {
  EXPECT_EQ(StatusPage(L3(/*checkers=*/-1)).substr(0, 17), "Upstream foo.com\n");
}

TEST(StatusPageTest, S11NoBackupsEndsWithTheBackupHeader) {
  Upstreams upstreams;
  ASSERT_TRUE(upstreams.AddUpstream("foo.com", {{"127.0.0.1:7983"}}, {}).ok());
  upstreams.AddChecker("foo.com", 1);
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", false, 0, true).ok());
  EXPECT_EQ(StatusPage(upstreams),
            "Upstream foo.com\n"
            "    Primary Peers\n"
            "        127.0.0.1:7983 DOWN\n"
            "    Backup Peers\n");
}

TEST(StatusPageTest, S14CanonicalIpv6Names) {
  Upstreams upstreams;
  ASSERT_TRUE(
      upstreams.AddUpstream("foo.com", {{"127.0.0.1:12354"}, {"[::1]:12355"}}, {{"[0:0::1]:12356"}})
          .ok());
  upstreams.AddChecker("foo.com", 1);
  EXPECT_EQ(StatusPage(upstreams),
            "Upstream foo.com\n"
            "    Primary Peers\n"
            "        127.0.0.1:12354 UP\n"
            "        [::1]:12355 UP\n"
            "    Backup Peers\n"
            "        [::1]:12356 UP\n");
}

TEST(StatusPageTest, ZeroUpstreamsIsEmpty) { EXPECT_EQ(StatusPage(Upstreams()), ""); }

TEST(StatusPageTest, RunsTheBeforeReadHook) {
  Upstreams upstreams = L3();
  upstreams.SetBeforeReadHook(
      [&] { ASSERT_TRUE(upstreams.SetPeerDown("foo.com", false, 0, true).ok()); });
  EXPECT_NE(StatusPage(upstreams).find("127.0.0.1:12354 DOWN\n"), std::string::npos);
}

TEST(StatusPageTest, TenThousandPeers) {
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
    upstreams.AddChecker(name, u % 2);
  }
  const auto start = std::chrono::steady_clock::now();
  const std::string page = StatusPage(upstreams);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // The time is a note for the log, not asserted. The size is computed before rendering, so
  // the page never regrows (a regrowth would double the capacity).
  std::printf("StatusPage of 10,000 peers: %zu bytes in %.3f ms\n", page.size(),
              std::chrono::duration<double, std::milli>(elapsed).count());
  EXPECT_LT(page.capacity(), page.size() + 64);
  EXPECT_NE(page.find("Upstream upstream-9.example.com\n"), std::string::npos);
  EXPECT_NE(page.find("Upstream upstream-0.example.com (NO checkers)\n"), std::string::npos);
}

}  // namespace
}  // namespace upcheck
