// spawn_checker()'s validation: the original's order and exact strings (protocol.md §3),
// plus the documented fixes.
#include <gtest/gtest.h>
#include <uv.h>

#include "test_names.h"
#include "upcheck/checker.h"
#include "upcheck/log.h"
#include "upcheck/segment.h"
#include "upcheck/upstreams.h"

namespace upcheck {
namespace {

class SpawnOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto seg = Segment::Create({.name = name_, .size = 1 << 20});
    ASSERT_TRUE(seg.ok());
    segment_ = std::move(*seg);
    segment_->Publish();
    uv_loop_init(&loop_);
    ASSERT_TRUE(upstreams_.AddUpstream("foo.com", {{"127.0.0.1:1"}}, {}).ok());
  }
  void TearDown() override {
    while (uv_run(&loop_, UV_RUN_DEFAULT) != 0) {
    }
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    (void)Segment::Remove(name_);
  }
  std::string Error(const CheckOptions& o) {
    CheckerEnv env;
    env.loop = &loop_;
    env.shm_name = "healthcheck";
    env.dict = &segment_->dict();
    env.upstreams = &upstreams_;
    env.logger = &logger_;
    auto c = Checker::Spawn(env, o);
    return c.ok() ? "ok" : c.error();
  }
  CheckOptions Valid() {
    CheckOptions o;
    o.type = "http";
    o.http_req = "GET / HTTP/1.0\r\n\r\n";
    o.shm = "healthcheck";
    o.upstream = "foo.com";
    return o;
  }

  std::string name_ = testing::UniqueSegmentName("spawn");
  std::unique_ptr<Segment> segment_;
  uv_loop_t loop_;
  Upstreams upstreams_;
  Logger logger_ = Logger::ToCallback([](LogLevel, std::string_view) {}, LogLevel::kError);
};

TEST_F(SpawnOptionsTest, ErrorsInTheOriginalsOrder) {
  struct Row {
    std::function<void(CheckOptions&)> change;
    std::string error;
  };
  std::vector<Row> rows = {
      {[](CheckOptions& o) { o = CheckOptions{}; }, "\"type\" option required"},
      {[](CheckOptions& o) {
         o = CheckOptions{};
         o.shm = "nope";
       },
       "\"type\" option required"},
      {[](CheckOptions& o) { o.type = "udp"; },
       "only \"http\" and \"https\" type are supported right now"},
      {[](CheckOptions& o) {
         o.type = "udp";
         o.http_req.reset();
       },
       "only \"http\" and \"https\" type are supported right now"},
      {[](CheckOptions& o) { o.http_req.reset(); }, "\"http_req\" option required"},
      {[](CheckOptions& o) {
         o.http_req.reset();
         o.shm.reset();
       },
       "\"http_req\" option required"},
      {[](CheckOptions& o) { o.shm.reset(); }, "\"shm\" option required"},
      {[](CheckOptions& o) { o.shm = "other"; }, "shm \"other\" not found"},
      {[](CheckOptions& o) {
         o.shm = "other";
         o.upstream.reset();
       },
       "shm \"other\" not found"},
      {[](CheckOptions& o) { o.upstream.reset(); }, "no upstream specified"},
      {[](CheckOptions& o) { o.upstream = "bar.com"; },
       "failed to get primary peers: upstream not found"},
      // "" is a value in Lua, not a missing option: it fails the next test instead.
      {[](CheckOptions& o) { o.type = ""; },
       "only \"http\" and \"https\" type are supported right now"},
      {[](CheckOptions& o) { o.shm = ""; }, "shm \"\" not found"},
      {[](CheckOptions& o) { o.upstream = ""; }, "failed to get primary peers: upstream not found"},
      // Q11 fixed: a negative timeout is refused at spawn, not at probe time.
      {[](CheckOptions& o) { o.timeout_ms = -1; }, "\"timeout\" option must be >= 0"},
      {[](CheckOptions& o) {
         o.type = "https";
         o.ca_file = "/nonexistent/ca.pem";
       },
       ""},
  };
  for (const Row& row : rows) {
    CheckOptions o = Valid();
    row.change(o);
    std::string err = Error(o);
    if (row.error.empty()) {
      EXPECT_NE(err, "ok") << "a missing CA file must be refused";
      EXPECT_NE(err.find("/nonexistent/ca.pem"), std::string::npos) << err;
    } else {
      EXPECT_EQ(err, row.error);
    }
  }
  EXPECT_EQ(upstreams_.CheckerCount("foo.com"), 0) << "a failed spawn must not count";
}

// DESIGN §9's request and response keys: http and https only, request instead of http_req.
TEST_F(SpawnOptionsTest, HttpKeysAreValidatedAtSpawn) {
  struct Row {
    std::function<void(CheckOptions&)> change;
    std::string error;
  };
  std::vector<Row> rows = {
      {[](CheckOptions& o) {
         o.http_req.reset();
         o.request = CheckRequest{.path = "/healthz"};
       },
       "ok"},
      {[](CheckOptions& o) { o.request = CheckRequest{}; },
       "\"http_req\" and \"request\" options cannot be used together"},
      {[](CheckOptions& o) {
         o.type = "tcp";
         o.http_req.reset();
         o.expect_body = "ok";
       },
       "\"expect_body\" option needs type \"http\" or \"https\""},
      {[](CheckOptions& o) {
         o.type = "tls";
         o.http_req.reset();
         o.request = CheckRequest{};
       },
       "\"request\" option needs type \"http\" or \"https\""},
      {[](CheckOptions& o) { o.expect_header = HeaderExpectation{.name = "X", .match = "("}; },
       "\"expect_header\" option: bad regex \"(\": missing closing parenthesis at offset 1"},
      {[](CheckOptions& o) {
         o.expect_status = {{"2xx"}};
         o.expect_body = "ok";
         o.body_max = 4096;
       },
       "ok"},
  };
  for (const Row& row : rows) {
    CheckOptions o = Valid();
    row.change(o);
    EXPECT_EQ(Error(o), row.error);
    EXPECT_EQ(ValidateCheckOptions(o).ok() ? "ok" : ValidateCheckOptions(o).message(), row.error);
  }
}

TEST_F(SpawnOptionsTest, SuccessCountsTheChecker) {
  EXPECT_EQ(Error(Valid()), "ok");
  EXPECT_EQ(upstreams_.CheckerCount("foo.com"), 1);
  EXPECT_EQ(Error(Valid()), "ok");  // two checkers on one upstream: the count is 2
  EXPECT_EQ(upstreams_.CheckerCount("foo.com"), 2);
}

}  // namespace
}  // namespace upcheck
