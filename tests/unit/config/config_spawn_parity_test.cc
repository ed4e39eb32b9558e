// ParseConfig refuses a check table with the very string Checker::Spawn returns for the same
// options, so `upcheckd --test` and the workers never disagree on what is wrong.
#include <gtest/gtest.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "test_names.h"
#include "upcheck/checker.h"
#include "upcheck/config.h"
#include "upcheck/log.h"
#include "upcheck/segment.h"
#include "upcheck/upstreams.h"

namespace upcheck {
namespace {

class ConfigSpawnParityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto seg = Segment::Create({.name = name_, .size = 1 << 20});
    ASSERT_TRUE(seg.ok()) << seg.error();
    segment_ = std::move(*seg);
    segment_->Publish();
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    ASSERT_TRUE(upstreams_.AddUpstream("u", {{"127.0.0.1:80"}}, {}).ok());
  }
  void TearDown() override {
    while (uv_run(&loop_, UV_RUN_DEFAULT) != 0) {
    }
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    (void)Segment::Remove(name_);
  }

  std::string SpawnError(const CheckOptions& o) {
    CheckerEnv env;
    env.loop = &loop_;
    env.shm_name = "healthcheck";
    env.dict = &segment_->dict();
    env.upstreams = &upstreams_;
    env.logger = &logger_;
    auto checker = Checker::Spawn(env, o);
    return checker.ok() ? "(spawned)" : checker.error();
  }

  std::string name_ = testing::UniqueSegmentName("cfgspawn");
  std::unique_ptr<Segment> segment_;
  uv_loop_t loop_;
  Upstreams upstreams_;
  Logger logger_ = Logger::ToCallback([](LogLevel, std::string_view) {}, LogLevel::kError);
};

// The message after "file:line:col: upstream[0].check[.key]: ".
std::string CheckMessage(std::string_view toml) {
  Result<Config> config = ParseConfig(toml, "upcheck.toml");
  if (config.ok()) return "(accepted)";
  const std::string& text = config.error();
  size_t at = text.find("upstream[0].check");
  if (at == std::string::npos) return "(no check error) " + text;
  at = text.find(": ", at);
  return text.substr(at + 2);
}

TEST_F(ConfigSpawnParityTest, SameStringAsCheckerSpawn) {
  const std::string head = "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:80\"]\n";
  struct Case {
    std::string toml;
    std::function<void(CheckOptions&)> change;
  };
  const std::vector<Case> cases = {
      {head + "check = { interval = 1 }\n",
       [](CheckOptions& o) {
         o.type.reset();
         o.http_req.reset();
       }},
      {head + "check = { type = \"udp\", http_req = \"x\" }\n",
       [](CheckOptions& o) { o.type = "udp"; }},
      {head + "check = { type = \"https\" }\n",
       [](CheckOptions& o) {
         o.type = "https";
         o.http_req.reset();
       }},
      {"[[upstream]]\nprimary = [\"127.0.0.1:80\"]\ncheck = { type = \"http\", http_req = \"x\" "
       "}\n",
       [](CheckOptions& o) { o.upstream.reset(); }},
      {head + "check = { type = \"http\", http_req = \"x\", timeout = -1 }\n",
       [](CheckOptions& o) { o.timeout_ms = -1; }},
      {head + "check = { type = \"https\", http_req = \"x\", host = \"h\", "
              "ca_file = \"/nonexistent/ca.pem\" }\n",
       [](CheckOptions& o) {
         o.type = "https";
         o.host = "h";
         o.ca_file = "/nonexistent/ca.pem";
       }},
      {head + "check = { type = \"http\", http_req = \"x\", request = { path = \"/\" } }\n",
       [](CheckOptions& o) { o.request.emplace().path = "/"; }},
      {head + "check = { type = \"tcp\", expect_body = \"ok\" }\n",
       [](CheckOptions& o) {
         o.type = "tcp";
         o.http_req.reset();
         o.expect_body = "ok";
       }},
      {head + "check = { type = \"http\", request = { method = \"G T\" } }\n",
       [](CheckOptions& o) {
         o.http_req.reset();
         o.request.emplace().method = "G T";
       }},
      {head + "check = { type = \"http\", http_req = \"x\", expect_status = [\"20x\"] }\n",
       [](CheckOptions& o) { o.expect_status = std::vector<std::string>{"20x"}; }},
      {head + "check = { type = \"http\", http_req = \"x\", expect_status = [] }\n",
       [](CheckOptions& o) { o.expect_status = std::vector<std::string>{}; }},
      {head + "check = { type = \"http\", http_req = \"x\", expect_header = { name = \"X\", "
              "match = \"(\" } }\n",
       [](CheckOptions& o) {
         o.expect_header = HeaderExpectation{"X", "("};
       }},
      {head + "check = { type = \"http\", http_req = \"x\", expect_body = \"a(\" }\n",
       [](CheckOptions& o) { o.expect_body = "a("; }},
      {head + "check = { type = \"http\", http_req = \"x\", body_max = \"1k\" }\n",
       [](CheckOptions& o) { o.body_max = 1024; }},
      {head + "check = { type = \"http\", http_req = \"x\", expect_body = \"\", body_max = 0 }\n",
       [](CheckOptions& o) {
         o.expect_body = "";
         o.body_max = 0;
       }},
  };
  for (const Case& c : cases) {
    CheckOptions o;
    o.type = "http";
    o.http_req = "x";
    o.shm = "healthcheck";
    o.upstream = "u";
    c.change(o);
    EXPECT_EQ(CheckMessage(c.toml), SpawnError(o)) << c.toml;
  }
}

// The other way round: a check the parser accepts with the HTTP keys, spawned as parsed.
TEST_F(ConfigSpawnParityTest, AcceptedHttpKeysSpawn) {
  const std::string head = "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:80\"]\n";
  const std::vector<std::string> accepted = {
      head + "check = { type = \"http\", request = {} }\n",
      head +
          "check = { type = \"http\", request = { method = \"HEAD\", path = \"/h\", host = "
          "\"foo.com\", headers = { \"User-Agent\" = \"upcheck\" }, body = \"x\" } }\n",
      head +
          "check = { type = \"http\", http_req = \"x\", expect_status = [\"2xx\", 301, "
          "\"!503\"], expect_header = { name = \"Content-Type\", match = \"json$\" }, "
          "expect_body = \"ok\", body_max = \"16m\" }\n",
      head +
          "check = { type = \"https\", host = \"h\", request = { path = \"/\" }, "
          "expect_body = \"\", body_max = 1 }\n",
  };
  for (const std::string& toml : accepted) {
    Result<Config> config = ParseConfig(toml, "upcheck.toml");
    ASSERT_TRUE(config.ok()) << config.error();
    EXPECT_EQ(SpawnError(*config->upstreams[0].check), "(spawned)") << toml;
  }
}

}  // namespace
}  // namespace upcheck
