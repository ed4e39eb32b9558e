// The fleet tier on the pages (DESIGN §11): /status.json's "fleet" object and the
// upcheck_fleet_* families show the role, version and fallbacks the registry holds, for the
// upstreams whose checkers took a part in a fleet only.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "test_names.h"
#include "upcheck/internal/registry.h"
#include "upcheck/internal/status_details.h"
#include "upcheck/segment.h"

namespace upcheck {
namespace {

bool Has(const std::string& page, const std::string& text) {
  return page.find(text) != std::string::npos;
}

class FleetStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CheckOptions check;
    check.type = "tcp";
    // foo.com and baz.com are checked; bar.com is not.
    specs_ = {{.name = "foo.com", .primary = {{"127.0.0.1:1"}}, .backup = {}, .check = check},
              {.name = "bar.com", .primary = {{"127.0.0.1:2"}}, .backup = {}, .check = {}},
              {.name = "baz.com", .primary = {{"127.0.0.1:3"}}, .backup = {}, .check = check}};
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
  }
  void TearDown() override { (void)Segment::Remove(name_); }

  void Record(std::string_view upstream, FleetRole role, double version, bool fell_back) {
    FleetEvent e;
    e.upstream = upstream;
    e.role = role;
    e.version = version;
    e.holder = "h1";
    e.fell_back = fell_back;
    e.error = fell_back ? "connection refused" : "";
    registry_->RecordFleet(e);
  }

  std::string name_ = testing::UniqueSegmentName("fstat");
  std::vector<RegistryUpstreamSpec> specs_;
  std::unique_ptr<Segment> segment_;
  std::optional<Registry> registry_;
  Upstreams view_;
};

TEST_F(FleetStatusTest, StatusJsonHasFleetOnlyWhereARoleWasTaken) {
  Record("foo.com", FleetRole::kWinner, 3, false);
  const std::string text = StatusJson(view_, &*registry_, 1);
  EXPECT_TRUE(Has(text, R"({"name":"foo.com","checkers":0,"version":0,)"
                        R"("fleet":{"role":"winner","version":3,"fallbacks":0},"peers":[)"))
      << text;
  const nlohmann::json doc = nlohmann::json::parse(text);
  EXPECT_FALSE(doc["upstreams"][1].contains("fleet"));
  EXPECT_FALSE(doc["upstreams"][2].contains("fleet"));  // checked, but no cycle in a fleet yet
}

TEST_F(FleetStatusTest, StatusJsonCountsFallbacksAndKeepsTheVersion) {
  Record("baz.com", FleetRole::kFollower, 7, false);
  Record("baz.com", FleetRole::kAlone, 0, true);  // 0: no fleet version read this cycle
  const nlohmann::json doc = nlohmann::json::parse(StatusJson(view_, &*registry_, 1));
  EXPECT_EQ(doc["upstreams"][2]["fleet"],
            nlohmann::json({{"role", "alone"}, {"version", 7}, {"fallbacks", 1}}));
}

TEST_F(FleetStatusTest, MetricsShowRoleVersionAndFallbacks) {
  Record("foo.com", FleetRole::kWinner, 3, false);
  Record("baz.com", FleetRole::kAlone, 2, true);
  const std::string page = UpcheckMetrics(view_, &*registry_);
  EXPECT_TRUE(Has(page,
                  "# HELP upcheck_fleet_role This host's part in the upstream's fleet: 1 for the "
                  "current role, else 0.\n"
                  "# TYPE upcheck_fleet_role gauge\n"
                  "upcheck_fleet_role{upstream=\"foo.com\",role=\"winner\"} 1\n"
                  "upcheck_fleet_role{upstream=\"foo.com\",role=\"follower\"} 0\n"
                  "upcheck_fleet_role{upstream=\"foo.com\",role=\"alone\"} 0\n"
                  "upcheck_fleet_role{upstream=\"baz.com\",role=\"winner\"} 0\n"
                  "upcheck_fleet_role{upstream=\"baz.com\",role=\"follower\"} 0\n"
                  "upcheck_fleet_role{upstream=\"baz.com\",role=\"alone\"} 1\n"))
      << page;
  EXPECT_TRUE(Has(page,
                  "# TYPE upcheck_fleet_version gauge\n"
                  "upcheck_fleet_version{upstream=\"foo.com\"} 3\n"
                  "upcheck_fleet_version{upstream=\"baz.com\"} 2\n"))
      << page;
  EXPECT_TRUE(Has(page,
                  "# TYPE upcheck_fleet_fallback_total counter\n"
                  "upcheck_fleet_fallback_total{upstream=\"foo.com\"} 0\n"
                  "upcheck_fleet_fallback_total{upstream=\"baz.com\"} 1\n"))
      << page;
  EXPECT_FALSE(Has(page, "bar.com\",role=\"winner"));
}

TEST_F(FleetStatusTest, NoFamiliesWithoutAFleet) {
  const std::string page = UpcheckMetrics(view_, &*registry_);
  EXPECT_FALSE(Has(page, "upcheck_fleet")) << page;
  EXPECT_FALSE(Has(StatusJson(view_, &*registry_, 1), "\"fleet\""));
}

}  // namespace
}  // namespace upcheck
