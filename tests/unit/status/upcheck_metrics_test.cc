// UpcheckMetrics(): the upcheck_* families, exact text, escaping, and a 10,000-peer page.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "check_events.h"
#include "test_names.h"
#include "upcheck/internal/registry.h"
#include "upcheck/internal/status_details.h"
#include "upcheck/segment.h"

namespace upcheck {
namespace {

constexpr const char* kUpHeader =
    "# HELP upcheck_peer_up Whether the peer is up (1) or down (0) in this worker's view.\n"
    "# TYPE upcheck_peer_up gauge\n";
std::string BuildInfo() {
  return "# HELP upcheck_build_info upcheck's version; always 1.\n"
         "# TYPE upcheck_build_info gauge\n"
         "upcheck_build_info{version=\"" +
         std::string(UpcheckVersion()) + "\"} 1\n";
}

class UpcheckMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CheckOptions check;
    check.type = "http";
    check.http_req = "GET / HTTP/1.0\r\n\r\n";
    specs_ = {{"foo.com", {{"127.0.0.1:1"}, {"[::1]:2", true}}, {{"unix:/tmp/x.sock"}}, check}};
    auto seg =
        SegmentSetUp::Create({.name = name_, .size = 1 << 20}, Registry::BytesNeeded(specs_, 2));
    ASSERT_TRUE(seg.ok()) << seg.error();
    segment_ = std::move(*seg);
    auto reg = Registry::Create(*segment_, specs_, 2);
    ASSERT_TRUE(reg.ok()) << reg.error();
    registry_.emplace(std::move(*reg));
    segment_->Publish();
    auto view = registry_->BuildUpstreams();
    ASSERT_TRUE(view.ok()) << view.error();
    view_ = std::move(*view);
    view_.AddChecker("foo.com", 1);

    PeerCheckEvent e = testing::RefusedConnectEvent();
    registry_->RecordCheck(e);
    e.kind = ProbeKind::kOk;
    e.detail = "";
    e.transition = HealthTransition::kTurnedUp;
    e.duration_ms = 1.5;
    e.unix_ms = 1700000001456;
    registry_->RecordCheck(e);
  }
  void TearDown() override { (void)Segment::Remove(name_); }

  std::string name_ = testing::UniqueSegmentName("umet");
  std::vector<RegistryUpstreamSpec> specs_;
  std::unique_ptr<Segment> segment_;
  std::optional<Registry> registry_;
  Upstreams view_;
};

// The passive checks' families appear once a peer has a count, with that peer only, after
// the families every page has; a passive turn-down counts as a transition.
TEST_F(UpcheckMetricsTest, PassiveFamiliesOnlyForPeersWithCounts) {
  const std::string p1 = R"({upstream="foo.com",peer="[::1]:2",role="primary")";
  const std::string before = UpcheckMetrics(view_, &*registry_);
  EXPECT_EQ(before.find("passive"), std::string::npos);
  EXPECT_EQ(before.find("skipped"), std::string::npos);
  registry_->RecordPassive("foo.com", false, 1, PassiveResult::kReset,
                           HealthTransition::kUnchanged);
  registry_->RecordPassive("foo.com", false, 1, PassiveResult::kOk, HealthTransition::kUnchanged);
  registry_->RecordPassive("foo.com", false, 1, PassiveResult::kConnectFailed,
                           HealthTransition::kTurnedDown);
  registry_->RecordSkip(PeerSkipEvent{"foo.com", false, 1, "[::1]:2"});
  registry_->RecordPassive("nope", false, 0, PassiveResult::kReset, HealthTransition::kUnchanged);
  const std::string page = UpcheckMetrics(view_, &*registry_);
  EXPECT_NE(page.find("# HELP upcheck_peer_passive_failures_total Connections to the peer that a "
                      "balancer saw fail (passive checks).\n"
                      "# TYPE upcheck_peer_passive_failures_total counter\n"
                      "upcheck_peer_passive_failures_total" +
                      p1 +
                      "} 2\n"
                      "# HELP upcheck_peer_active_skipped_total"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("upcheck_peer_active_skipped_total" + p1 + "} 1\n"), std::string::npos);
  EXPECT_NE(page.find("upcheck_peer_transitions_total" + p1 + ",to=\"down\"} 1\n"),
            std::string::npos);
}

TEST_F(UpcheckMetricsTest, ExactFamilies) {
  const std::string p0 = R"({upstream="foo.com",peer="127.0.0.1:1",role="primary")";
  const std::string p1 = R"({upstream="foo.com",peer="[::1]:2",role="primary")";
  const std::string b0 = R"({upstream="foo.com",peer="unix:/tmp/x.sock",role="backup")";
  EXPECT_EQ(UpcheckMetrics(view_, &*registry_),
            std::string(kUpHeader) +                //
                "upcheck_peer_up" + p0 + "} 1\n" +  //
                "upcheck_peer_up" + p1 + "} 0\n" +  //
                "upcheck_peer_up" + b0 + "} 1\n" +  //
                "# HELP upcheck_peer_checks_total Health checks of the peer, by result.\n"
                "# TYPE upcheck_peer_checks_total counter\n" +
                "upcheck_peer_checks_total" + p0 + ",result=\"success\"} 1\n" +  //
                "upcheck_peer_checks_total" + p0 + ",result=\"failure\"} 1\n" +  //
                "upcheck_peer_checks_total" + p1 + ",result=\"success\"} 0\n" +  //
                "upcheck_peer_checks_total" + p1 + ",result=\"failure\"} 0\n" +  //
                "upcheck_peer_checks_total" + b0 + ",result=\"success\"} 0\n" +  //
                "upcheck_peer_checks_total" + b0 + ",result=\"failure\"} 0\n" +
                "# HELP upcheck_peer_check_failures_total Failed health checks of the peer, by "
                "result.\n"
                "# TYPE upcheck_peer_check_failures_total counter\n" +
                "upcheck_peer_check_failures_total" + p0 + ",result=\"connect\"} 1\n" +
                "# HELP upcheck_peer_transitions_total Times the health checks turned the peer "
                "up or down.\n"
                "# TYPE upcheck_peer_transitions_total counter\n" +
                "upcheck_peer_transitions_total" + p0 + ",to=\"up\"} 1\n" +    //
                "upcheck_peer_transitions_total" + p0 + ",to=\"down\"} 1\n" +  //
                "upcheck_peer_transitions_total" + p1 + ",to=\"up\"} 0\n" +    //
                "upcheck_peer_transitions_total" + p1 + ",to=\"down\"} 0\n" +  //
                "upcheck_peer_transitions_total" + b0 + ",to=\"up\"} 0\n" +    //
                "upcheck_peer_transitions_total" + b0 + ",to=\"down\"} 0\n" +
                "# HELP upcheck_peer_check_duration_seconds Duration of the peer's last health "
                "check.\n"
                "# TYPE upcheck_peer_check_duration_seconds gauge\n" +
                "upcheck_peer_check_duration_seconds" + p0 + "} 0.0015\n" +
                "# HELP upcheck_peer_last_check_timestamp_seconds Unix time of the peer's last "
                "health check.\n"
                "# TYPE upcheck_peer_last_check_timestamp_seconds gauge\n" +
                "upcheck_peer_last_check_timestamp_seconds" + p0 + "} 1700000001.456\n" +
                "# HELP upcheck_events_total Events written to the segment's journal "
                "(upcheck-shmctl events), by kind.\n"
                "# TYPE upcheck_events_total counter\n"
                "upcheck_events_total{kind=\"down\"} 1\n"
                "upcheck_events_total{kind=\"up\"} 1\n"
                "upcheck_events_total{kind=\"failure\"} 0\n"
                "upcheck_events_total{kind=\"admin\"} 0\n"
                "upcheck_events_total{kind=\"worker_exit\"} 0\n"
                "upcheck_events_total{kind=\"worker_spawn\"} 0\n"
                "upcheck_events_total{kind=\"reload\"} 0\n"
                "upcheck_events_total{kind=\"fleet_fallback\"} 0\n" +
                BuildInfo());
}

// One sample per result a peer failed with, in kFailureResults' order, adding up to its
// checks_total{result="failure"}; a peer that never failed has none.
TEST_F(UpcheckMetricsTest, FailuresByResultOnlyTheNonzeroOnes) {
  PeerCheckEvent e;
  e.upstream = "foo.com";
  e.id = 1;
  e.peer = "[::1]:2";
  e.unix_ms = 1700000002000;
  for (ProbeKind kind : {ProbeKind::kBody, ProbeKind::kStatusCode, ProbeKind::kBody,
                         ProbeKind::kReceiveResponse, ProbeKind::kOk}) {
    e.kind = kind;
    registry_->RecordCheck(e);
  }
  e.kind = ProbeKind::kHeader;
  e.timed_out = true;
  registry_->RecordCheck(e);
  const std::string page = UpcheckMetrics(view_, &*registry_);
  const std::string p1 = R"({upstream="foo.com",peer="[::1]:2",role="primary")";
  const std::string family = "upcheck_peer_check_failures_total";
  EXPECT_NE(page.find(family + p1 + ",result=\"timeout\"} 1\n" +      //
                      family + p1 + ",result=\"receive\"} 1\n" +      //
                      family + p1 + ",result=\"status_code\"} 1\n" +  //
                      family + p1 + ",result=\"body\"} 2\n" +         //
                      "# HELP upcheck_peer_transitions_total"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("upcheck_peer_checks_total" + p1 + ",result=\"failure\"} 5\n"),
            std::string::npos)
      << page;
  EXPECT_EQ(page.find(family + R"({upstream="foo.com",peer="unix:/tmp/x.sock")"), std::string::npos)
      << page;
}

// The next check's family appears once a checker reported a due time, as a gauge of
// Unix seconds per peer that has one.
TEST_F(UpcheckMetricsTest, NextCheckTimestamp) {
  EXPECT_EQ(UpcheckMetrics(view_, &*registry_).find("upcheck_peer_next_check"), std::string::npos);
  PeerCheckEvent e = testing::RefusedConnectEvent();
  e.next_check_unix_ms = 1700000003250;
  registry_->RecordCheck(e);
  const std::string page = UpcheckMetrics(view_, &*registry_);
  EXPECT_NE(page.find("# HELP upcheck_peer_next_check_timestamp_seconds Unix time at which the "
                      "peer is next due a check.\n"
                      "# TYPE upcheck_peer_next_check_timestamp_seconds gauge\n"
                      "upcheck_peer_next_check_timestamp_seconds{upstream=\"foo.com\","
                      "peer=\"127.0.0.1:1\",role=\"primary\"} 1700000003.25\n"),
            std::string::npos)
      << page;
}

TEST_F(UpcheckMetricsTest, WithoutRegistryOnlyUpAndBuildInfo) {
  ASSERT_TRUE(view_.SetPeerDown("foo.com", true, 0, true).ok());
  EXPECT_EQ(UpcheckMetrics(view_, nullptr),
            std::string(kUpHeader) +
                R"(upcheck_peer_up{upstream="foo.com",peer="127.0.0.1:1",role="primary"} 1)"
                "\n"
                R"(upcheck_peer_up{upstream="foo.com",peer="[::1]:2",role="primary"} 0)"
                "\n"
                R"(upcheck_peer_up{upstream="foo.com",peer="unix:/tmp/x.sock",role="backup"} 0)"
                "\n" +
                BuildInfo());
}

TEST(UpcheckMetricsEscaping, LabelValuesAreEscaped) {
  Upstreams view;
  ASSERT_TRUE(view.AddUpstream("a\"b\\c", {{"unix:/tmp/q\"x\\y"}}, {}).ok());
  const std::string page = UpcheckMetrics(view, nullptr);
  EXPECT_NE(page.find(R"(upcheck_peer_up{upstream="a\"b\\c",peer="unix:/tmp/q\"x\\y",)"
                      R"(role="primary"} 1)"
                      "\n"),
            std::string::npos)
      << page;
}

TEST(UpcheckMetricsVersion, IsTheProjectVersion) {
  EXPECT_FALSE(UpcheckVersion().empty());
  EXPECT_EQ(UpcheckVersion().find('"'), std::string_view::npos);
}

TEST(UpcheckMetricsScale, TenThousandPeersWithRegistry) {
  std::vector<PeerConfig> peers;
  for (int i = 0; i < 10000; ++i) {
    peers.push_back(
        {"10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":80"});
  }
  CheckOptions check;
  check.type = "http";
  check.http_req = "GET / HTTP/1.0\r\n\r\n";
  std::vector<RegistryUpstreamSpec> specs = {{"big", peers, {}, check}};
  const std::string name = testing::UniqueSegmentName("umetbig");
  auto seg =
      SegmentSetUp::Create({.name = name, .size = 16 << 20}, Registry::BytesNeeded(specs, 2));
  ASSERT_TRUE(seg.ok()) << seg.error();
  auto reg = Registry::Create(**seg, specs, 2);
  ASSERT_TRUE(reg.ok()) << reg.error();
  (*seg)->Publish();
  for (uint32_t id = 0; id < 10000; ++id) {
    PeerCheckEvent e;
    e.upstream = "big";
    e.id = id;
    e.kind = ProbeKind::kOk;
    e.duration_ms = 0.3;
    e.unix_ms = 1700000000000 + id;
    reg->RecordCheck(e);
  }
  auto view = reg->BuildUpstreams();
  ASSERT_TRUE(view.ok());
  const auto start = std::chrono::steady_clock::now();
  const std::string page = UpcheckMetrics(*view, &*reg);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  std::printf("UpcheckMetrics, 10000 peers with registry: %lld us, %zu bytes\n",
              static_cast<long long>(us), page.size());
  size_t lines = 0;
  for (char c : page) lines += c == '\n';
  // 7 samples per peer, 7 headers, events_total (a header and 8 kinds), build_info
  EXPECT_EQ(lines, 10000u * 7 + 7 * 2 + 10 + 1);
  (void)Segment::Remove(name);
}

}  // namespace
}  // namespace upcheck
