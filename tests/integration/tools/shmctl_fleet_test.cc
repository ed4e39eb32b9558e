// upcheck-shmctl fleet ($UPCHECK_SHMCTL) against a real upcheckd ($UPCHECKD) in a fleet of
// one host ("h1") on a real redis-server: the segment's part (role, versions, fallbacks,
// holder) in text and JSON, Redis's part with --redis (holder, lock TTL, version, hosts,
// AUTH), and the errors: bad arguments change nothing and print nothing on stdout; a Redis
// that cannot be read still lets the segment's part print, then exits 1.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon_process.h"
#include "loopback_http_server.h"
#include "redis_server.h"
#include "subprocess.h"
#include "test_names.h"
#include "tool_fixture.h"

namespace upcheck::testing {
namespace {

using nlohmann::json;

constexpr int kIntervalMs = 200;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class ShmctlFleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
    ASSERT_TRUE(redis_.Start().ok());
    ASSERT_TRUE(backend_.ok());
    TestConfig config;
    config.shm_name = shm_;
    config.upstreams = {
        {.name = "app", .primary = {backend_.address()}, .interval_ms = kIntervalMs},
        {.name = "plain", .primary = {"127.0.0.1:1"}, .check = false}};
    config.fleet_toml = "[fleet]\nredis = \"" + redis_.address() + "\"\nhost_id = \"h1\"";
    daemon_.emplace(ConfigToml(config));
    ASSERT_GT(daemon_->StatusPort(), 0) << daemon_->err();
    // The winner, holding a fleet version (its first publish sets one, the next cycle reads
    // it back) and having seen itself hold the lock.
    json row;
    ASSERT_TRUE(Eventually([&] {
      row = SegmentRow(Fleet({"--json"}));
      return row.is_object() && row["role"] == "winner" && row["version"].get<double>() > 0 &&
             row["holder"] == "h1";
    })) << row.dump()
        << daemon_->err();
  }
  void TearDown() override {
    if (daemon_) {
      EXPECT_EQ(daemon_->Stop(), 0) << daemon_->err();
    }
    (void)Segment::Remove(shm_);
  }

  ProcessResult Fleet(std::vector<std::string> args) {
    args.insert(args.begin(), {"-s", shm_, "fleet"});
    return RunTool("UPCHECK_SHMCTL", args);
  }
  // The one upstream of `fleet --json`'s segment part, or null.
  static json SegmentRow(const ProcessResult& r) {
    const json doc = json::parse(r.out, nullptr, false);
    if (!doc.is_object() || doc["upstreams"].size() != 1) return nullptr;
    return doc["upstreams"][0];
  }

  std::string shm_ = UniqueSegmentName("fleettool");
  RedisServer redis_;
  LoopbackHttpServer backend_{Family::kV4, StatusResponse(200)};
  std::optional<DaemonProcess> daemon_;
};

TEST_F(ShmctlFleetTest, TextShowsEachCheckedUpstreamFromTheSegment) {
  const ProcessResult r = Fleet({});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;  // "plain" has no check: no fleet probes it
  EXPECT_EQ(lines[0], "UPSTREAM\tROLE\tVERSION\tLOCAL\tFALLBACKS\tHOLDER");
  EXPECT_EQ(lines[1].rfind("app\twinner\t", 0), 0u) << lines[1];
  EXPECT_EQ(lines[1].substr(lines[1].size() - 5), "\t0\th1") << lines[1];
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST_F(ShmctlFleetTest, JsonShowsTheSameFacts) {
  const ProcessResult r = Fleet({"app", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json doc = json::parse(r.out);
  EXPECT_FALSE(doc.contains("redis"));
  const json& row = doc["upstreams"][0];
  EXPECT_EQ(row["upstream"], "app");
  EXPECT_EQ(row["role"], "winner");
  EXPECT_GE(row["version"].get<double>(), 1);
  EXPECT_GE(row["local_version"].get<double>(), 0);
  EXPECT_EQ(row["fallbacks"], 0);
  EXPECT_EQ(row["holder"], "h1");
}

TEST_F(ShmctlFleetTest, RedisPartShowsTheLockVersionAndHosts) {
  // The lock lapses for a moment between cycles (PX interval - 1): ask until it is held.
  json redis;
  ASSERT_TRUE(Eventually([&] {
    const ProcessResult r = Fleet({"--json", "--redis", redis_.address()});
    const json doc = json::parse(r.out, nullptr, false);
    if (r.exit_code != 0 || !doc.is_object()) return false;
    redis = doc["redis"];
    return redis["upstreams"][0]["holder"] == "h1";
  })) << redis.dump();
  EXPECT_EQ(redis["address"], redis_.address());
  EXPECT_EQ(redis["prefix"], "upcheck:");
  const json& app = redis["upstreams"][0];
  EXPECT_EQ(app["upstream"], "app");
  EXPECT_GE(app["lock_pttl_ms"].get<int64_t>(), 0);
  // The winner holds the lock two cycles and a half past its start, never longer.
  EXPECT_LE(app["lock_pttl_ms"].get<int64_t>(), 2 * kIntervalMs + kIntervalMs / 2);
  EXPECT_GE(app["version"].get<double>(), 1);
  ASSERT_EQ(redis["hosts"].size(), 1u) << redis.dump();
  EXPECT_EQ(redis["hosts"][0]["host_id"], "h1");
  EXPECT_GE(redis["hosts"][0]["age_s"].get<double>(), 0);

  std::string text;
  ASSERT_TRUE(Eventually([&] {
    const ProcessResult r = Fleet({"--redis", redis_.address()});
    text = r.out;
    return r.exit_code == 0 && text.find("\napp\th1\t") != std::string::npos;
  })) << text;
  const std::vector<std::string> lines = Lines(text);
  ASSERT_EQ(lines.size(), 8u) << text;
  EXPECT_EQ(lines[2], "");
  EXPECT_EQ(lines[3], "redis " + redis_.address());
  EXPECT_EQ(lines[4], "UPSTREAM\tHOLDER\tPTTL_MS\tVERSION");
  EXPECT_EQ(lines[5].rfind("app\th1\t", 0), 0u) << lines[5];
  EXPECT_EQ(lines[6], "HOST\tAGE_S");
  EXPECT_EQ(lines[7].rfind("h1\t", 0), 0u) << lines[7];
}

TEST_F(ShmctlFleetTest, PasswordFromTheEnvironment) {
  RedisServer locked({.password = "s3cret"});
  ASSERT_TRUE(locked.Start().ok());
  ProcessResult r = Fleet({"--redis", locked.address()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("upcheck-shmctl: redis " + locked.address() + ": NOAUTH"), std::string::npos)
      << r.err;
  ASSERT_EQ(setenv("UPCHECK_TEST_REDIS_PASSWORD", "s3cret", 1), 0);
  r = Fleet(
      {"--json", "--redis", locked.address(), "--password-env", "UPCHECK_TEST_REDIS_PASSWORD"});
  unsetenv("UPCHECK_TEST_REDIS_PASSWORD");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json redis = json::parse(r.out)["redis"];  // a Redis no host of ours uses
  EXPECT_EQ(redis["upstreams"][0]["holder"], nullptr);
  EXPECT_EQ(redis["upstreams"][0]["version"], nullptr);
  EXPECT_TRUE(redis["hosts"].empty());
}

TEST_F(ShmctlFleetTest, BadArgumentsAreOneLineErrors) {
  EXPECT_TRUE(IsOneLineError(Fleet({"nope"}), "upcheck-shmctl", "upstream \"nope\" not found"));
  EXPECT_TRUE(
      IsOneLineError(Fleet({"plain"}), "upcheck-shmctl", "upstream \"plain\" has no check"));
  EXPECT_TRUE(IsOneLineError(Fleet({"--redis", "localhost:6379"}), "upcheck-shmctl",
                             "--redis: bad address \"localhost:6379\""));
  EXPECT_TRUE(IsOneLineError(Fleet({"--prefix", "x:"}), "upcheck-shmctl", "--redis"));
  EXPECT_TRUE(IsOneLineError(
      Fleet({"--redis", redis_.address(), "--password-env", "UPCHECK_TEST_NO_SUCH_VARIABLE"}),
      "upcheck-shmctl", "--password-env: $UPCHECK_TEST_NO_SUCH_VARIABLE is not set"));
}

TEST_F(ShmctlFleetTest, RedisGoneStillPrintsTheSegmentPart) {
  redis_.Stop();
  ProcessResult r = Fleet({"--redis", redis_.address()});
  EXPECT_EQ(r.exit_code, 1);
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[1].rfind("app\t", 0), 0u) << lines[1];
  EXPECT_EQ(r.err.rfind("upcheck-shmctl: redis " + redis_.address() + ": ", 0), 0u) << r.err;
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;

  r = Fleet({"--json", "--redis", redis_.address()});
  EXPECT_EQ(r.exit_code, 1);
  const json doc = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  EXPECT_EQ(doc["upstreams"][0]["upstream"], "app");
  EXPECT_FALSE(doc.contains("redis"));
}

}  // namespace
}  // namespace upcheck::testing
