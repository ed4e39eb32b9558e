// The balancer's state in the registry and on the pages (DESIGN §10): SetPanic tells one
// caller per change and counts entries; /status.json and the upcheck_* families show panic
// and slow-start weights only for the upstreams that set them.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "check_events.h"
#include "test_names.h"
#include "upcheck/internal/registry.h"
#include "upcheck/internal/status_details.h"
#include "upcheck/segment.h"

namespace upcheck {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class BalancerStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // foo.com balances with both keys; bar.com with neither.
    specs_ = {
        {.name = "foo.com",
         .primary = {{"127.0.0.1:1"}, {"127.0.0.1:2"}},
         .backup = {},
         .check = std::nullopt,
         .slow_start_ms = 3'600'000,
         .panic_threshold = 50},
        {.name = "bar.com", .primary = {{"127.0.0.1:3"}}, .backup = {}, .check = std::nullopt}};
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
    // 127.0.0.1:1 turned up a minute ago: a sixtieth of the way up its hour's ramp.
    PeerCheckEvent e = testing::RefusedConnectEvent();
    e.kind = ProbeKind::kOk;
    e.detail = "";
    e.transition = HealthTransition::kTurnedUp;
    e.unix_ms = NowMs() - 60'000;
    registry_->RecordCheck(e);
  }
  void TearDown() override { (void)Segment::Remove(name_); }

  std::string name_ = testing::UniqueSegmentName("bstat");
  std::vector<RegistryUpstreamSpec> specs_;
  std::unique_ptr<Segment> segment_;
  std::optional<Registry> registry_;
  Upstreams view_;
};

TEST_F(BalancerStatusTest, SetPanicTellsOneCallerPerChangeAndCountsEntries) {
  auto opened = Segment::Open(name_);
  ASSERT_TRUE(opened.ok());
  auto other = Registry::Attach(**opened);  // as another worker sees it
  ASSERT_TRUE(other.ok()) << other.error();
  EXPECT_EQ(other->slow_start_ms(0), 3'600'000);
  EXPECT_EQ(other->panic_threshold(0), 50u);
  EXPECT_EQ(other->panic_threshold(1), 0u);
  EXPECT_TRUE(registry_->SetPanic(0, true));
  EXPECT_FALSE(other->SetPanic(0, true));  // already in panic: nothing to log
  EXPECT_TRUE(other->panic(0));
  EXPECT_TRUE(other->SetPanic(0, false));
  EXPECT_FALSE(registry_->SetPanic(0, false));
  EXPECT_TRUE(registry_->SetPanic(0, true));
  EXPECT_EQ(other->panic_total(0), 2u);
  EXPECT_FALSE(other->SetPanic(7, true));  // unknown upstream
}

TEST_F(BalancerStatusTest, StatusJsonShowsPanicAndWeightsWhereSet) {
  ASSERT_TRUE(registry_->SetPanic(0, true));
  const nlohmann::json doc = nlohmann::json::parse(StatusJson(view_, &*registry_, 1));
  const nlohmann::json& foo = doc["upstreams"][0];
  EXPECT_EQ(foo["panic"], true);
  EXPECT_EQ(foo["panic_total"], 1);
  const double ramping = foo["peers"][0]["slow_start_weight"].get<double>();
  EXPECT_GE(ramping, kSlowStartMinWeight);
  EXPECT_LT(ramping, 0.5);
  EXPECT_EQ(foo["peers"][1]["slow_start_weight"], 1);  // up since start-up
  const nlohmann::json& bar = doc["upstreams"][1];
  EXPECT_FALSE(bar.contains("panic"));
  EXPECT_FALSE(bar["peers"][0].contains("slow_start_weight"));
}

TEST_F(BalancerStatusTest, MetricsShowPanicAndWeightsWhereSet) {
  ASSERT_TRUE(registry_->SetPanic(0, true));
  ASSERT_TRUE(registry_->SetPanic(0, false));
  const std::string page = UpcheckMetrics(view_, &*registry_);
  EXPECT_NE(page.find("# TYPE upcheck_upstream_panic gauge\n"
                      "upcheck_upstream_panic{upstream=\"foo.com\"} 0\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("# TYPE upcheck_panic_total counter\n"
                      "upcheck_panic_total{upstream=\"foo.com\"} 1\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("upcheck_peer_slow_start_weight{upstream=\"foo.com\",peer=\"127.0.0.1:2\","
                      "role=\"primary\"} 1\n"),
            std::string::npos)
      << page;
  EXPECT_EQ(page.find("upstream=\"bar.com\"} "), std::string::npos) << page;
  EXPECT_EQ(page.find("slow_start_weight{upstream=\"bar.com\""), std::string::npos) << page;
}

TEST_F(BalancerStatusTest, NoFamiliesWhenNoUpstreamBalances) {
  const std::string page = UpcheckMetrics(view_, nullptr);
  EXPECT_EQ(page.find("panic"), std::string::npos);
  EXPECT_EQ(page.find("slow_start"), std::string::npos);
}

}  // namespace
}  // namespace upcheck
