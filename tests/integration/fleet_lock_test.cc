// FleetLock (DESIGN §11): two hosts, each its own RedisClient, share one redis-server on
// loopback. Per lock TTL exactly one wins; when Redis fails both probe alone, each saying so
// once and counting every such cycle; when it answers again they rejoin.
#include <signal.h>

#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "fleet/fleet_lock.h"
#include "probe_uv_test_loop.h"
#include "redis_server.h"
#include "slow_tool.h"

namespace upcheck::fleet {
namespace {

using testing::RedisServer;
using Outcome = FleetLockOutcome;

class FleetLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    ASSERT_TRUE(redis_.Start().ok());
    for (auto* client : {&client_a_, &client_b_}) {
      RedisClient::Options options;
      options.address = redis_.address();
      options.timeout_ms = 2000;
      Result<std::unique_ptr<RedisClient>> c = RedisClient::Create(loop_.get(), options);
      ASSERT_TRUE(c.ok()) << c.error();
      *client = std::move(*c);
    }
    a_.emplace(*client_a_, "upcheck:", "lb-1");
    b_.emplace(*client_b_, "upcheck:", "lb-2");
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    client_a_.reset();
    client_b_.reset();
    EXPECT_EQ(loop_.Close(), 0);
  }

  // Both hosts try the lock at once; the loop runs until both have their answer.
  std::pair<FleetLockResult, FleetLockResult> BothTry(int64_t ttl_ms = 60000) {
    std::optional<FleetLockResult> ra, rb;
    a_->TryLock("u", ttl_ms, [&](FleetLockResult r) { ra = std::move(r); });
    b_->TryLock("u", ttl_ms, [&](FleetLockResult r) { rb = std::move(r); });
    loop_.RunUntil([&] { return ra && rb; }, testing::Slow(std::chrono::seconds(10)));
    EXPECT_TRUE(ra && rb);
    return {ra.value_or(FleetLockResult{}), rb.value_or(FleetLockResult{})};
  }

  RedisServer redis_;
  testing::UvTestLoop loop_;
  std::unique_ptr<RedisClient> client_a_, client_b_;
  std::optional<FleetLock> a_, b_;
};

TEST_F(FleetLockTest, OneHostWinsAndTheKeyNamesIt) {
  auto [ra, rb] = BothTry();
  EXPECT_EQ(ra.outcome, Outcome::kWon);  // a sent first on the same loop
  EXPECT_EQ(rb.outcome, Outcome::kHeld);
  EXPECT_EQ(redis_.Run({"GET", "upcheck:l:u"}).value(), "lb-1");
  Result<std::string> ttl = redis_.Run({"PTTL", "upcheck:l:u"});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(std::stoll(*ttl), 0);
  // Still held: neither wins until it expires.
  auto [again_a, again_b] = BothTry();
  EXPECT_EQ(again_a.outcome, Outcome::kHeld);
  EXPECT_EQ(again_b.outcome, Outcome::kHeld);
  EXPECT_EQ(a_->fallbacks(), 0u);
}

TEST_F(FleetLockTest, OneWinnerPerExpiry) {
  // Each round: the key is gone (as when its TTL ran out), both try, one wins.
  int won = 0;
  for (int round = 0; round < 20; ++round) {
    ASSERT_TRUE(redis_.Run({"DEL", "upcheck:l:u"}).ok());
    auto [ra, rb] = BothTry();
    won += (ra.outcome == Outcome::kWon ? 1 : 0) + (rb.outcome == Outcome::kWon ? 1 : 0);
    EXPECT_NE(ra.outcome, Outcome::kAlone);
    EXPECT_NE(rb.outcome, Outcome::kAlone);
  }
  EXPECT_EQ(won, 20);
}

TEST_F(FleetLockTest, RedisGoneMeansAloneSaidOnceCountedEachCycleThenRejoin) {
  ASSERT_TRUE(BothTry().first.outcome == Outcome::kWon);
  redis_.Stop();
  auto [first_a, first_b] = BothTry();
  EXPECT_EQ(first_a.outcome, Outcome::kAlone);
  EXPECT_EQ(first_b.outcome, Outcome::kAlone);
  EXPECT_TRUE(first_a.fell_back);
  EXPECT_TRUE(first_b.fell_back);
  EXPECT_NE(first_a.error.find("redis " + redis_.address()), std::string::npos) << first_a.error;
  auto [second_a, second_b] = BothTry();
  EXPECT_EQ(second_a.outcome, Outcome::kAlone);
  EXPECT_FALSE(second_a.fell_back);  // said once
  EXPECT_FALSE(second_b.fell_back);
  EXPECT_EQ(a_->fallbacks(), 2u);  // counted every cycle
  EXPECT_EQ(b_->fallbacks(), 2u);
  ASSERT_TRUE(redis_.Start().ok());  // back, empty: the lock is free
  auto [back_a, back_b] = BothTry();
  EXPECT_EQ(back_a.outcome, Outcome::kWon);
  EXPECT_EQ(back_b.outcome, Outcome::kHeld);
  EXPECT_TRUE(back_a.rejoined);
  EXPECT_TRUE(back_b.rejoined);
  EXPECT_FALSE(a_->alone());
}

TEST_F(FleetLockTest, AKeyOfAnotherTypeIsHeldNotAnError) {
  ASSERT_TRUE(redis_.Run({"HSET", "upcheck:l:u", "f", "v"}).ok());
  auto [ra, rb] = BothTry();
  // NX sees a key of any type: held, not an error (a stray key without a TTL would hold
  // the lock for good; the fleet tier must check PTTL before it trusts a holder).
  EXPECT_EQ(ra.outcome, Outcome::kHeld);
  EXPECT_EQ(rb.outcome, Outcome::kHeld);
}

TEST_F(FleetLockTest, ATtlBelowOneIsOneMs) {
  std::optional<FleetLockResult> r;
  a_->TryLock("u", 0, [&](FleetLockResult got) { r = std::move(got); });
  loop_.RunUntil([&] { return r.has_value(); }, testing::Slow(std::chrono::seconds(10)));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->outcome, Outcome::kWon) << r->error;
}

}  // namespace
}  // namespace upcheck::fleet
