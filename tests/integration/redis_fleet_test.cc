// RedisFleet (DESIGN §11): two hosts, each its own tier and connection, share one
// redis-server on loopback. Per lock TTL exactly one wins and the other learns who; a
// winner's publish is what the next cycle reads; every Redis fault is kAlone with its cause.
#include <signal.h>

#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "fleet/redis_fleet.h"
#include "probe_uv_test_loop.h"
#include "redis_server.h"
#include "slow_tool.h"

namespace upcheck::fleet {
namespace {

using testing::RedisServer;

class RedisFleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    ASSERT_TRUE(redis_.Start().ok());
    a_ = Tier("lb-1");
    b_ = Tier("lb-2");
    ASSERT_TRUE(a_ && b_);
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    EXPECT_EQ(loop_.Close(), 0);
  }

  std::unique_ptr<RedisFleet> Tier(const std::string& host,
                                   std::optional<std::string> password = std::nullopt) {
    Result<std::unique_ptr<RedisFleet>> t =
        RedisFleet::Create(loop_.get(), {.redis = redis_.address(),
                                         .host_id = host,
                                         .timeout_ms = 2000,
                                         .password = std::move(password)});
    EXPECT_TRUE(t.ok()) << t.error();
    return t.ok() ? std::move(*t) : nullptr;
  }

  FleetCycle Begin(RedisFleet& tier, int64_t ttl_ms = 60000, int64_t hold_ms = 120000) {
    std::optional<FleetCycle> got;
    tier.BeginCycle("u", ttl_ms, hold_ms, [&](FleetCycle c) { got = std::move(c); });
    loop_.RunUntil([&] { return got.has_value(); }, testing::Slow(std::chrono::seconds(10)));
    EXPECT_TRUE(got.has_value());
    return got.value_or(FleetCycle{});
  }

  FleetSnapshot Read(RedisFleet& tier) {
    std::optional<Result<FleetSnapshot>> got;
    tier.ReadPeers("u", peers_, [&](Result<FleetSnapshot> r) { got.emplace(std::move(r)); });
    loop_.RunUntil([&] { return got.has_value(); }, testing::Slow(std::chrono::seconds(10)));
    EXPECT_TRUE(got.has_value() && got->ok());
    return got && got->ok() ? std::move(**got) : FleetSnapshot{};
  }

  Result<std::optional<double>> Publish(RedisFleet& tier, const std::vector<FleetPeerState>& s,
                                        bool bump, std::optional<double> set_version) {
    std::optional<Result<std::optional<double>>> got;
    tier.Publish("u", peers_, s, bump, set_version,
                 [&](Result<std::optional<double>> r) { got.emplace(std::move(r)); });
    loop_.RunUntil([&] { return got.has_value(); }, testing::Slow(std::chrono::seconds(10)));
    EXPECT_TRUE(got.has_value());
    return got.value_or(Result<std::optional<double>>::Error("no answer"));
  }

  RedisServer redis_;
  testing::UvTestLoop loop_;
  std::unique_ptr<RedisFleet> a_, b_;
  const std::vector<std::string> peers_{"127.0.0.1:80", "[::1]:81"};
};

TEST_F(RedisFleetTest, OneHostWinsAndTheOtherLearnsWho) {
  FleetCycle first = Begin(*a_);
  FleetCycle second = Begin(*b_);
  EXPECT_EQ(first.role, FleetRole::kWinner) << first.error;
  EXPECT_EQ(first.holder, "lb-1");
  EXPECT_EQ(second.role, FleetRole::kFollower) << second.error;
  EXPECT_EQ(second.holder, "lb-1");
  EXPECT_FALSE(first.kept) << "won afresh";
  EXPECT_FALSE(second.version.has_value()) << "a new fleet has no version";
  // Won with the cycle's TTL (60 s), then held on for the hold (120 s).
  EXPECT_GT(std::stoll(redis_.Run({"PTTL", "upcheck:l:u"}).value()), 60000);
  // The holder wins its own lock again, kept; the other host still follows.
  FleetCycle again = Begin(*a_);
  EXPECT_EQ(again.role, FleetRole::kWinner);
  EXPECT_TRUE(again.kept);
  EXPECT_EQ(Begin(*b_).role, FleetRole::kFollower);
  Result<std::string> hosts = redis_.Run({"HEXISTS", "upcheck:hosts", "lb-2"});
  ASSERT_TRUE(hosts.ok()) << hosts.error();
  EXPECT_EQ(*hosts, "1");
}

TEST_F(RedisFleetTest, OneWinnerPerExpiry) {
  int won = 0;
  for (int round = 0; round < 20; ++round) {
    ASSERT_TRUE(redis_.Run({"DEL", "upcheck:l:u"}).ok());  // as when its TTL ran out
    std::optional<FleetCycle> ra, rb;
    a_->BeginCycle("u", 60000, 60000, [&](FleetCycle c) { ra = std::move(c); });
    b_->BeginCycle("u", 60000, 60000, [&](FleetCycle c) { rb = std::move(c); });
    loop_.RunUntil([&] { return ra && rb; }, testing::Slow(std::chrono::seconds(10)));
    ASSERT_TRUE(ra && rb);
    EXPECT_NE(ra->role, FleetRole::kAlone) << ra->error;
    EXPECT_NE(rb->role, FleetRole::kAlone) << rb->error;
    won += (ra->role == FleetRole::kWinner ? 1 : 0) + (rb->role == FleetRole::kWinner ? 1 : 0);
  }
  EXPECT_EQ(won, 20);
}

TEST_F(RedisFleetTest, WhatTheWinnerPublishesTheNextCycleReads) {
  ASSERT_EQ(Begin(*a_).role, FleetRole::kWinner);
  Result<std::optional<double>> v = Publish(*a_, {{true, 0.0, 3.0}, {false, 7.0, 0.0}}, true, {});
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(*v, std::optional<double>(1));
  EXPECT_EQ(redis_.Run({"GET", "upcheck:d:u:127.0.0.1:80"}).value(), "1");
  FleetCycle c = Begin(*b_);
  ASSERT_EQ(c.role, FleetRole::kFollower) << c.error;
  EXPECT_EQ(c.version, std::optional<double>(1));
  FleetSnapshot peers = Read(*b_);
  EXPECT_EQ(peers.version, std::optional<double>(1));
  ASSERT_EQ(peers.peers.size(), 2u);
  EXPECT_TRUE(peers.peers[0].down);
  EXPECT_EQ(peers.peers[0].nok, std::optional<double>(3));
  EXPECT_FALSE(peers.peers[1].down);
  EXPECT_EQ(peers.peers[1].ok, std::optional<double>(7));
  // Without a change the version stays; after a flush the winner sets where it goes on from.
  EXPECT_EQ(*Publish(*a_, {{false, 1.0, 0.0}, {false, 8.0, 0.0}}, false, {}), std::nullopt);
  EXPECT_EQ(redis_.Run({"GET", "upcheck:d:u:127.0.0.1:80"}).value(), "(nil)");
  ASSERT_TRUE(redis_.FlushAll().ok());
  EXPECT_EQ(*Publish(*a_, {{true, 0.0, 1.0}, {false, 9.0, 0.0}}, false, 5.0),
            std::optional<double>(5));
  EXPECT_EQ(redis_.Run({"GET", "upcheck:v:u"}).value(), "5");
}

TEST_F(RedisFleetTest, RedisGoneIsAloneWithItsCauseThenBack) {
  ASSERT_EQ(Begin(*a_).role, FleetRole::kWinner);
  redis_.Stop();
  FleetCycle gone = Begin(*a_);
  EXPECT_EQ(gone.role, FleetRole::kAlone);
  EXPECT_NE(gone.error.find("redis " + redis_.address()), std::string::npos) << gone.error;
  EXPECT_FALSE(Publish(*a_, {{false, 1.0, 0.0}, {false, 1.0, 0.0}}, true, {}).ok());
  ASSERT_TRUE(redis_.Start().ok());  // back, empty: the lock is free
  EXPECT_EQ(Begin(*b_).role, FleetRole::kWinner);
  EXPECT_EQ(Begin(*a_).role, FleetRole::kFollower);
}

TEST_F(RedisFleetTest, ALockKeyOfAnotherTypeIsAloneNotHeldForGood) {
  ASSERT_TRUE(redis_.Run({"HSET", "upcheck:l:u", "f", "v"}).ok());
  FleetCycle c = Begin(*a_);
  EXPECT_EQ(c.role, FleetRole::kAlone);
  EXPECT_NE(c.error.find("WRONGTYPE"), std::string::npos) << c.error;
}

TEST_F(RedisFleetTest, ALockSetWithoutTtlGetsOne) {
  ASSERT_TRUE(redis_.Run({"SET", "upcheck:l:u", "lb-9"}).ok());
  FleetCycle c = Begin(*a_, 900, 900);
  EXPECT_EQ(c.role, FleetRole::kFollower);
  EXPECT_EQ(c.holder, "lb-9");
  // The PEXPIRE goes out after the answer, on the same connection: the next cycle's
  // commands come after it.
  (void)Begin(*a_, 900, 900);
  const long long ttl = std::stoll(redis_.Run({"PTTL", "upcheck:l:u"}).value());
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 900);
}

TEST_F(RedisFleetTest, AWrongPasswordIsAloneWithRedisWords) {
  RedisServer locked({.password = "s3cret"});
  ASSERT_TRUE(locked.Start().ok());
  Result<std::unique_ptr<RedisFleet>> t =
      RedisFleet::Create(loop_.get(), {.redis = locked.address(),
                                       .host_id = "lb-3",
                                       .timeout_ms = 2000,
                                       .password = std::string("wrong")});
  ASSERT_TRUE(t.ok()) << t.error();
  FleetCycle c = Begin(**t);
  EXPECT_EQ(c.role, FleetRole::kAlone);
  EXPECT_FALSE(c.error.empty());
  t->reset();
}

}  // namespace
}  // namespace upcheck::fleet
