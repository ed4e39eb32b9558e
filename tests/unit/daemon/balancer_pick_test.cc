// BalancerPick (workers/net/balancer_pick.h): slow start and panic over 1,000 picks, with
// the clock and the peers' last changes injected, so the counts are exact.
#include "net/balancer_pick.h"

#include <gtest/gtest.h>

#include <map>
#include <span>
#include <string>
#include <vector>

namespace upcheck {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;  // Unix ms
constexpr int64_t kSlowStart = 30'000;

std::vector<PeerInfo> Peers(size_t n, bool backup = false) {
  std::vector<PeerInfo> peers(n);
  for (size_t i = 0; i < n; ++i) {
    peers[i].id = static_cast<uint32_t>(i);
    peers[i].name = (backup ? "b" : "p") + std::to_string(i);
    peers[i].backup = backup;
  }
  return peers;
}

// Picks `n` times; how often each peer (by name) was picked. "" counts no pick.
std::map<std::string, int> Count(BalancerPick& pick, std::span<const PeerInfo> primary,
                                 std::span<const PeerInfo> backup,
                                 const BalancerPick::LastChange& last_change, int64_t now_ms,
                                 int n = 1000) {
  std::map<std::string, int> counts;
  for (int i = 0; i < n; ++i) {
    const PeerInfo* p = pick.Next(primary, backup, last_change, now_ms);
    ++counts[p == nullptr ? "" : p->name];
  }
  return counts;
}

// p1 turned up `ago` ms before kNow; every other peer has been up since start-up.
BalancerPick::LastChange P1ChangedAgo(int64_t ago) {
  return [ago](bool backup, uint32_t id) { return !backup && id == 1 ? kNow - ago : 0; };
}

const BalancerPick::LastChange kNoChanges = [](bool, uint32_t) { return int64_t{0}; };

TEST(SmoothWeightedTest, EqualWeightsGoRoundInOrder) {
  SmoothWeighted rr;
  const std::vector<int64_t> w = {5, 5, 5};
  std::vector<size_t> got;
  for (int i = 0; i < 6; ++i) got.push_back(*rr.Next(w));
  EXPECT_EQ(got, (std::vector<size_t>{0, 1, 2, 0, 1, 2}));
  EXPECT_FALSE(rr.Next(std::vector<int64_t>{0, 0}).has_value());
}

TEST(BalancerPickTest, PeersUpSinceStartUpShareEqually) {
  BalancerPick pick({.slow_start_ms = kSlowStart});
  const std::vector<PeerInfo> primary = Peers(2);
  const auto counts = Count(pick, primary, {}, kNoChanges, kNow);
  EXPECT_EQ(counts.at("p0"), 500);
  EXPECT_EQ(counts.at("p1"), 500);
}

TEST(BalancerPickTest, HalfWayThroughTheRampARecoveredPeerGetsHalfAFullShare) {
  BalancerPick pick({.slow_start_ms = kSlowStart});
  const std::vector<PeerInfo> primary = Peers(2);
  const auto counts = Count(pick, primary, {}, P1ChangedAgo(kSlowStart / 2), kNow);
  // Weights 1000:500 over 1,000 picks: one in three for p1.
  EXPECT_GE(counts.at("p1"), 330);
  EXPECT_LE(counts.at("p1"), 337);
  EXPECT_EQ(counts.at("p0") + counts.at("p1"), 1000);
}

TEST(BalancerPickTest, TheShareRampsLinearlyFromAFloorToFull) {
  const std::vector<PeerInfo> primary = Peers(2);
  std::vector<int> p1;
  for (int64_t ago : {int64_t{0}, kSlowStart / 4, kSlowStart * 3 / 4, kSlowStart}) {
    BalancerPick pick({.slow_start_ms = kSlowStart});
    p1.push_back(Count(pick, primary, {}, P1ChangedAgo(ago), kNow).at("p1"));
  }
  // Shares 0.1 (the floor), 0.25, 0.75 and 1 of p0's: 1000 * w / (1 + w) picks.
  EXPECT_NEAR(p1[0], 91, 2);
  EXPECT_NEAR(p1[1], 200, 2);
  EXPECT_NEAR(p1[2], 429, 2);
  EXPECT_EQ(p1[3], 500);
}

TEST(BalancerPickTest, OneClockStepsThroughTheRamp) {
  BalancerPick pick({.slow_start_ms = kSlowStart});
  const std::vector<PeerInfo> primary = Peers(2);
  const auto last_change = P1ChangedAgo(0);
  int before = Count(pick, primary, {}, last_change, kNow).at("p1");
  int after = Count(pick, primary, {}, last_change, kNow + kSlowStart).at("p1");
  EXPECT_LT(before, 100);
  EXPECT_NEAR(after, 500, 1);
}

TEST(BalancerPickTest, WithoutSlowStartARecoveredPeerGetsItsFullShareAtOnce) {
  BalancerPick pick({});
  const std::vector<PeerInfo> primary = Peers(2);
  EXPECT_EQ(Count(pick, primary, {}, P1ChangedAgo(0), kNow).at("p1"), 500);
}

TEST(BalancerPickTest, DownPeersAreNotPickedOutsidePanic) {
  BalancerPick pick({.slow_start_ms = kSlowStart, .panic_threshold = 50});
  std::vector<PeerInfo> primary = Peers(3);
  primary[2].down = true;  // 2 of 3 up: 66%, not below 50%
  const auto counts = Count(pick, primary, {}, kNoChanges, kNow);
  EXPECT_FALSE(counts.contains("p2"));
  EXPECT_FALSE(pick.panic());
}

TEST(BalancerPickTest, PanicSpreadsPicksOverAllPrimaries) {
  BalancerPick pick({.panic_threshold = 50});
  std::vector<PeerInfo> primary = Peers(3);
  primary[1].down = primary[2].down = true;
  const std::vector<PeerInfo> backup = Peers(1, /*backup=*/true);
  const auto counts = Count(pick, primary, backup, kNoChanges, kNow);
  EXPECT_TRUE(pick.panic());
  EXPECT_EQ(pick.health().up, 1u);
  EXPECT_EQ(pick.health().eligible, 3u);
  EXPECT_NEAR(counts.at("p0"), 333, 1);
  EXPECT_NEAR(counts.at("p1"), 333, 1);
  EXPECT_NEAR(counts.at("p2"), 333, 1);
  EXPECT_FALSE(counts.contains("b0"));  // panic picks primaries, never backups
}

TEST(BalancerPickTest, AboveTheThresholdOnlyUpPeersArePicked) {
  BalancerPick pick({.panic_threshold = 30});
  std::vector<PeerInfo> primary = Peers(3);
  primary[1].down = primary[2].down = true;  // 33% up: not below 30%
  const auto counts = Count(pick, primary, {}, kNoChanges, kNow);
  EXPECT_FALSE(pick.panic());
  EXPECT_EQ(counts.at("p0"), 1000);
}

TEST(BalancerPickTest, PanicLeavesPeersAnOperatorHoldsDownOrDrains) {
  BalancerPick pick({.panic_threshold = 60});
  std::vector<PeerInfo> primary = Peers(4);
  primary[1].admin = AdminState::kDrain;
  primary[2].admin = AdminState::kDown;
  primary[3].down = true;  // of the two left, one is up: 50% < 60%
  const auto counts = Count(pick, primary, {}, kNoChanges, kNow);
  EXPECT_TRUE(pick.panic());
  EXPECT_EQ(pick.health().eligible, 2u);
  EXPECT_EQ(counts.at("p0"), 500);
  EXPECT_EQ(counts.at("p3"), 500);
}

TEST(BalancerPickTest, WithNoPrimaryUpTheBackupsTakeOverRatherThanPanic) {
  BalancerPick pick({.panic_threshold = 50});
  std::vector<PeerInfo> primary = Peers(2);
  primary[0].down = primary[1].down = true;
  const std::vector<PeerInfo> backup = Peers(1, /*backup=*/true);
  EXPECT_EQ(Count(pick, primary, backup, kNoChanges, kNow).at("b0"), 1000);
  EXPECT_FALSE(pick.panic());

  std::vector<PeerInfo> down_backup = Peers(1, /*backup=*/true);
  down_backup[0].down = true;
  const auto counts = Count(pick, primary, down_backup, kNoChanges, kNow);
  EXPECT_TRUE(pick.panic());
  EXPECT_EQ(counts.at("p0"), 500);
  EXPECT_EQ(counts.at("p1"), 500);
}

TEST(BalancerPickTest, NothingPickableGivesNoPeer) {
  BalancerPick pick({.slow_start_ms = kSlowStart});
  std::vector<PeerInfo> primary = Peers(2);
  primary[0].down = primary[1].down = true;
  EXPECT_EQ(pick.Next(primary, {}, kNoChanges, kNow), nullptr);
}

TEST(SlowStartWeightTest, RampsFromTheLastChangeAndIsFullOtherwise) {
  EXPECT_EQ(SlowStartWeight(false, 0, kSlowStart, kNow), 1.0);  // up since start-up
  EXPECT_EQ(SlowStartWeight(false, kNow, 0, kNow), 1.0);        // slow start off
  EXPECT_EQ(SlowStartWeight(true, kNow, kSlowStart, kNow), 1.0);
  EXPECT_EQ(SlowStartWeight(false, kNow, kSlowStart, kNow), kSlowStartMinWeight);
  EXPECT_DOUBLE_EQ(SlowStartWeight(false, kNow - kSlowStart / 2, kSlowStart, kNow), 0.5);
  EXPECT_EQ(SlowStartWeight(false, kNow - kSlowStart, kSlowStart, kNow), 1.0);
}

}  // namespace
}  // namespace upcheck
