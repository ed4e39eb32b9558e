// CheckerSet: a process's view and checkers on one segment, set up by name or from a Config,
// and torn down by destruction alone.
#include "upcheck/checker_set.h"

#include <gtest/gtest.h>
#include <uv.h>

#include "test_names.h"
#include "upcheck/config.h"
#include "upcheck/health_shm.h"

namespace upcheck {
namespace {

class CheckerSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto shm = HealthShm::Create({.name = name_, .size = 1 << 20});
    ASSERT_TRUE(shm.ok()) << shm.error();
    shm_ = *shm;
    uv_loop_init(&loop_);
  }
  void TearDown() override {
    // Destroying the set was all it took: the loop has only closes left to run.
    while (uv_run(&loop_, UV_RUN_DEFAULT) != 0) {
    }
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    (void)Segment::Remove(name_);
  }
  std::unique_ptr<CheckerSet> NewSet() {
    auto set = CheckerSet::Create(
        &loop_, *shm_, {.logger = Logger::ToCallback([](LogLevel, std::string_view) {}, kQuiet)});
    EXPECT_TRUE(set.ok());
    return set.ok() ? std::move(*set) : nullptr;
  }
  static CheckOptions Http() {
    CheckOptions o;
    o.type = "http";
    o.http_req = "GET / HTTP/1.0\r\n\r\n";
    return o;
  }

  static constexpr LogLevel kQuiet = LogLevel::kError;
  std::string name_ = testing::UniqueSegmentName("set");
  std::optional<HealthShm> shm_;
  uv_loop_t loop_;
};

TEST_F(CheckerSetTest, FillsShmAndUpstreamIntoTheOptions) {
  auto set = NewSet();
  ASSERT_TRUE(set->AddUpstream("foo.com", {{"127.0.0.1:1"}}, {}, Http()).ok());
  EXPECT_EQ(set->checker_count(), 1u);
  EXPECT_EQ(set->view().CheckerCount("foo.com"), 1);
  EXPECT_EQ(set->Pick("foo.com")->name, "127.0.0.1:1");
  set->Stop();
  EXPECT_EQ(set->Pick("foo.com")->name, "127.0.0.1:1");  // the view outlives Stop()
}

TEST_F(CheckerSetTest, AFleetThatCannotBeMadeIsCreateError) {
  FleetConfig fleet;
  fleet.redis = "127.0.0.1:6379";
  fleet.host_id = "lb-1";
  fleet.timeout_ms = 0;
  auto set = CheckerSet::Create(&loop_, *shm_, {.fleet = fleet});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().rfind("fleet: ", 0), 0u) << set.error();
}

TEST_F(CheckerSetTest, AFleetSetIsTornDownByDestructionAlone) {
  // Its Redis is never reached here (it connects at the first cycle): only the tier's
  // handles, closed with the set, are left on the loop (TearDown closes it).
  FleetConfig fleet;
  fleet.redis = "127.0.0.1:1";
  fleet.host_id = "lb-1";
  auto set = CheckerSet::Create(
      &loop_, *shm_,
      {.logger = Logger::ToCallback([](LogLevel, std::string_view) {}, kQuiet), .fleet = fleet});
  ASSERT_TRUE(set.ok()) << set.error();
  ASSERT_TRUE((*set)->AddUpstream("foo.com", {{"127.0.0.1:1"}}, {}, Http()).ok());
}

TEST_F(CheckerSetTest, UncheckedUpstreamsArePickedOnly) {
  auto set = NewSet();
  ASSERT_TRUE(set->AddUpstream("a", {{"127.0.0.1:1"}, {"127.0.0.1:2", true}}, {}, {}).ok());
  EXPECT_EQ(set->checker_count(), 0u);
  EXPECT_EQ(set->Pick("a")->name, "127.0.0.1:1");  // 127.0.0.1:2 starts down
  EXPECT_FALSE(set->Pick("nope").has_value());
}

TEST_F(CheckerSetTest, SpawnErrorsNameTheUpstream) {
  auto set = NewSet();
  Status st = set->AddUpstream("foo.com", {{"127.0.0.1:1"}}, {}, CheckOptions{});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(),
            "upstream foo.com: failed to spawn health checker: \"type\" option required");
  st = set->AddUpstream("bar", {{"localhost:80"}}, {}, Http());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(set->view().GetUpstreams(), std::vector<std::string>{"foo.com"});
}

TEST_F(CheckerSetTest, SpawnsEveryCheckedUpstreamOfAConfig) {
  std::string toml = "[shm]\nname = \"" + name_ +
                     "\"\n"
                     "[[upstream]]\nname = \"a\"\nprimary = [\"127.0.0.1:1\"]\n"
                     "check = { type = \"http\", http_req = \"GET / HTTP/1.0\\r\\n\\r\\n\" }\n"
                     "[[upstream]]\nname = \"b\"\nprimary = [\"127.0.0.1:2\"]\n";
  auto config = ParseConfig(toml, "test.toml");
  ASSERT_TRUE(config.ok()) << config.error();
  auto set = NewSet();
  ASSERT_TRUE(set->AddUpstreams(*config).ok());
  EXPECT_EQ(set->view().GetUpstreams(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(set->checker_count(), 1u);

  config->shm.name = "other";
  auto other = NewSet();
  Status st = other->AddUpstreams(*config);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "config names shm \"other\" but this set runs on \"" + name_ + "\"");
}

TEST_F(CheckerSetTest, AttachedHandleSeesTheSameDict) {
  auto attached = HealthShm::Attach(name_);
  ASSERT_TRUE(attached.ok()) << attached.error();
  ASSERT_TRUE(shm_->segment().dict().Set("k", DictValue{1.0}).ok());
  auto value = attached->segment().dict().Get("k");
  ASSERT_TRUE(value.ok() && value->has_value());
  EXPECT_FALSE(HealthShm::Attach("set-no-such-segment").ok());
}

}  // namespace
}  // namespace upcheck
