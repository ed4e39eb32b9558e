// RedisClient (DESIGN §11) against a real redis-server on a loopback port of its own: the
// commands the fleet needs, and each fault (slow, refused, killed, restarted empty, a wrong
// password, a key of the wrong type) as an error value on the loop, never a crash or a hang.
// Deadlines count replies, not wall time: the client's own timeout is what is asserted.
#include <signal.h>

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fleet/redis_client.h"
#include "probe_uv_test_loop.h"
#include "redis_server.h"
#include "slow_tool.h"

namespace upcheck::fleet {
namespace {

using testing::RedisServer;
using testing::UvTestLoop;
using Kind = RedisReply::Kind;

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // RedisClient's requirement
    ASSERT_TRUE(redis_.Start().ok());
  }
  void TearDown() override {
    client_.reset();
    EXPECT_EQ(loop_.Close(), 0);
  }

  void Connect(int64_t timeout_ms = 2000, std::optional<std::string> password = std::nullopt,
               RedisServer* redis = nullptr) {
    RedisClient::Options options;
    options.address = (redis != nullptr ? *redis : redis_).address();
    options.timeout_ms = timeout_ms;
    options.password = std::move(password);
    Result<std::unique_ptr<RedisClient>> client = RedisClient::Create(loop_.get(), options);
    ASSERT_TRUE(client.ok()) << client.error();
    client_ = std::move(*client);
  }

  // Sends one command and runs the loop until its callback has run.
  Result<RedisReply> Run(std::vector<std::string> args) {
    std::optional<Result<RedisReply>> got;
    client_->Command(std::move(args), [&](Result<RedisReply> r) { got.emplace(std::move(r)); });
    EXPECT_FALSE(got.has_value()) << "called back from inside Command()";
    loop_.RunUntil([&] { return got.has_value(); }, testing::Slow(std::chrono::seconds(10)));
    if (!got) return Result<RedisReply>::Error("(the callback never ran)");
    return std::move(*got);
  }

  // Sends `commands` as one batch and runs the loop until its one callback has run.
  RedisClient::Replies RunPipeline(const std::vector<std::vector<std::string>>& commands) {
    std::optional<RedisClient::Replies> got;
    int calls = 0;
    client_->Pipeline(commands, [&](RedisClient::Replies r) {
      ++calls;
      got.emplace(std::move(r));
    });
    EXPECT_FALSE(got.has_value()) << "called back from inside Pipeline()";
    loop_.RunUntil([&] { return got.has_value(); }, testing::Slow(std::chrono::seconds(10)));
    EXPECT_EQ(calls, 1);
    return got ? std::move(*got) : RedisClient::Replies{};
  }

  RedisServer redis_;
  UvTestLoop loop_;
  std::unique_ptr<RedisClient> client_;
};

TEST_F(RedisClientTest, LockVersionAndFlagCommands) {
  Connect();
  Result<RedisReply> set = Run({"SET", "upcheck:l:u", "lb-1", "NX", "PX", "60000"});
  ASSERT_TRUE(set.ok()) << set.error();
  EXPECT_EQ(set->kind, Kind::kStatus);
  EXPECT_EQ(set->text, "OK");
  Result<RedisReply> again = Run({"SET", "upcheck:l:u", "lb-2", "NX", "PX", "60000"});
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->kind, Kind::kNil);  // held by lb-1
  Result<std::string> ttl = redis_.Run({"PTTL", "upcheck:l:u"});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(std::stoll(*ttl), 0);
  for (int64_t want : {1, 2}) {
    Result<RedisReply> incr = Run({"INCR", "upcheck:v:u"});
    ASSERT_TRUE(incr.ok()) << incr.error();
    EXPECT_EQ(incr->kind, Kind::kInteger);
    EXPECT_EQ(incr->integer, want);
  }
  Result<RedisReply> get = Run({"GET", "upcheck:l:u"});
  ASSERT_TRUE(get.ok()) << get.error();
  EXPECT_EQ(get->kind, Kind::kString);
  EXPECT_EQ(get->text, "lb-1");
  Result<RedisReply> missing = Run({"GET", "upcheck:d:u:p0"});
  ASSERT_TRUE(missing.ok()) << missing.error();
  EXPECT_EQ(missing->kind, Kind::kNil);
  EXPECT_EQ(client_->connects(), 1);
}

TEST_F(RedisClientTest, AKeyOfTheWrongTypeIsAnErrorAndTheConnectionStays) {
  ASSERT_TRUE(redis_.Run({"LPUSH", "upcheck:v:u", "x"}).ok());
  Connect();
  Result<RedisReply> incr = Run({"INCR", "upcheck:v:u"});
  ASSERT_FALSE(incr.ok());
  EXPECT_EQ(incr.error().rfind("redis " + redis_.address() + ": WRONGTYPE ", 0), 0) << incr.error();
  EXPECT_TRUE(Run({"PING"}).ok());
  EXPECT_EQ(client_->connects(), 1);
}

TEST_F(RedisClientTest, ASilentRedisTimesOutAndTheNextCommandReconnects) {
  Connect(200);
  ASSERT_TRUE(Run({"PING"}).ok());
  redis_.Pause();
  Result<RedisReply> get = Run({"GET", "k"});
  ASSERT_FALSE(get.ok());
  EXPECT_EQ(get.error(), "redis " + redis_.address() + ": no reply within 200 ms (timeout)");
  EXPECT_FALSE(client_->connected());
  redis_.Resume();
  ASSERT_TRUE(redis_.Run({"PING"}).ok());  // awake again before the client asks
  Result<RedisReply> ping = Run({"PING"});
  EXPECT_TRUE(ping.ok()) << ping.error();
  EXPECT_EQ(client_->connects(), 2);
}

TEST_F(RedisClientTest, EveryCommandInFlightFailsWithTheTimeout) {
  Connect(50);
  redis_.Pause();  // the kernel still accepts the connection: only replies are missing
  int failed = 0;
  for (int i = 0; i < 3; ++i) {
    client_->Command({"INCR", "v"}, [&](Result<RedisReply> r) { failed += r.ok() ? 0 : 1; });
  }
  loop_.RunUntil([&] { return failed == 3; }, testing::Slow(std::chrono::seconds(10)));
  EXPECT_EQ(failed, 3);
  redis_.Resume();
}

TEST_F(RedisClientTest, RefusedThenBack) {
  Connect();
  redis_.Stop();
  Result<RedisReply> get = Run({"GET", "k"});
  ASSERT_FALSE(get.ok());
  EXPECT_NE(get.error().find("Connection refused"), std::string::npos) << get.error();
  ASSERT_TRUE(redis_.Start().ok());
  Result<RedisReply> ping = Run({"PING"});
  EXPECT_TRUE(ping.ok()) << ping.error();
}

TEST_F(RedisClientTest, KilledMidCycleThenRestartedEmpty) {
  Connect();
  ASSERT_TRUE(Run({"INCR", "upcheck:v:u"}).ok());
  redis_.Stop();
  EXPECT_FALSE(Run({"INCR", "upcheck:v:u"}).ok());
  ASSERT_TRUE(redis_.Start().ok());
  Result<RedisReply> get = Run({"GET", "upcheck:v:u"});
  ASSERT_TRUE(get.ok()) << get.error();
  EXPECT_EQ(get->kind, Kind::kNil);  // restarted empty: the fleet version is gone
  EXPECT_GE(client_->connects(), 2);
}

TEST_F(RedisClientTest, AWrongPasswordFailsEveryCommandWithTheAuthReply) {
  RedisServer locked(RedisServer::Options{.password = "right"});
  ASSERT_TRUE(locked.Start().ok());
  Connect(2000, "wrong", &locked);
  Result<RedisReply> get = Run({"GET", "k"});
  ASSERT_FALSE(get.ok());
  EXPECT_EQ(get.error().rfind("redis " + locked.address() + ": AUTH failed: WRONGPASS", 0), 0)
      << get.error();
  Connect(2000, std::nullopt, &locked);
  Result<RedisReply> noauth = Run({"GET", "k"});
  ASSERT_FALSE(noauth.ok());
  EXPECT_NE(noauth.error().find("NOAUTH"), std::string::npos) << noauth.error();
  Connect(2000, "right", &locked);
  Result<RedisReply> ok = Run({"GET", "k"});
  EXPECT_TRUE(ok.ok()) << ok.error();
}

TEST_F(RedisClientTest, ACallbackMaySendTheNextCommand) {
  Connect();
  std::optional<Result<RedisReply>> second;
  client_->Command({"SET", "k", "1"}, [&](Result<RedisReply> first) {
    ASSERT_TRUE(first.ok()) << first.error();
    client_->Command({"GET", "k"}, [&](Result<RedisReply> r) { second.emplace(std::move(r)); });
  });
  loop_.RunUntil([&] { return second.has_value(); }, testing::Slow(std::chrono::seconds(10)));
  ASSERT_TRUE(second.has_value());
  ASSERT_TRUE(second->ok()) << second->error();
  EXPECT_EQ((*second)->text, "1");
}

TEST_F(RedisClientTest, APipelineAnswersEachCommandInOrderAndAnErrorIsOnlyItsOwn) {
  ASSERT_TRUE(redis_.Run({"LPUSH", "list", "x"}).ok());
  Connect();
  ASSERT_TRUE(Run({"PING"}).ok());  // connected: the batch leaves in one write at once
  RedisClient::Replies replies = RunPipeline({{"SET", "k", "1"}, {"INCR", "list"}, {"GET", "k"}});
  ASSERT_EQ(replies.size(), 3U);
  ASSERT_TRUE(replies[0].ok()) << replies[0].error();
  EXPECT_EQ(replies[0]->text, "OK");
  ASSERT_FALSE(replies[1].ok());
  EXPECT_NE(replies[1].error().find("WRONGTYPE"), std::string::npos) << replies[1].error();
  ASSERT_TRUE(replies[2].ok()) << replies[2].error();
  EXPECT_EQ(replies[2]->text, "1");
  EXPECT_EQ(client_->connects(), 1);
}

TEST_F(RedisClientTest, APipelineSentWhileConnectingGoesOutOnceConnected) {
  Connect();
  RedisClient::Replies replies = RunPipeline({{"INCR", "v"}, {"INCR", "v"}, {"GET", "v"}});
  ASSERT_EQ(replies.size(), 3U);
  for (const Result<RedisReply>& r : replies) ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(replies[1]->integer, 2);
  EXPECT_EQ(replies[2]->text, "2");
}

TEST_F(RedisClientTest, ABatchLargerThanTheSocketBufferIsWrittenInParts) {
  Connect();
  ASSERT_TRUE(Run({"PING"}).ok());
  const std::string big(16 << 20, 'x');  // far beyond a loopback socket's send buffer
  RedisClient::Replies replies = RunPipeline({{"SET", "big", big}, {"STRLEN", "big"}});
  ASSERT_EQ(replies.size(), 2U);
  ASSERT_TRUE(replies[0].ok()) << replies[0].error();
  ASSERT_TRUE(replies[1].ok()) << replies[1].error();
  EXPECT_EQ(replies[1]->integer, static_cast<int64_t>(big.size()));
}

TEST_F(RedisClientTest, ASilentRedisFailsEveryCommandOfTheBatchOnce) {
  Connect(50);
  redis_.Pause();  // the kernel still accepts the connection: only replies are missing
  RedisClient::Replies replies = RunPipeline({{"INCR", "v"}, {"GET", "v"}, {"PING"}});
  ASSERT_EQ(replies.size(), 3U);
  for (const Result<RedisReply>& r : replies) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), "redis " + redis_.address() + ": no reply within 50 ms (timeout)");
  }
  redis_.Resume();
}

TEST_F(RedisClientTest, DestroyingTheClientCancelsWithoutCallingBack) {
  Connect();
  redis_.Pause();
  bool called = false;
  client_->Command({"GET", "k"}, [&](Result<RedisReply>) { called = true; });
  client_.reset();
  loop_.RunUntil([] { return false; }, std::chrono::milliseconds(0));
  EXPECT_FALSE(called);
  redis_.Resume();
}

TEST(RedisClientCreateTest, RefusesAHostName) {
  UvTestLoop loop;
  RedisClient::Options options;
  options.address = "redis.local:6379";
  Result<std::unique_ptr<RedisClient>> client = RedisClient::Create(loop.get(), options);
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.error().find("redis.local:6379"), std::string::npos) << client.error();
  EXPECT_EQ(loop.Close(), 0);
}

}  // namespace
}  // namespace upcheck::fleet
