// The schedule's arithmetic (DESIGN §10): which interval a peer's state takes, the cycle
// the lock follows, jitter's bounds, the due key's TTL, and the options' errors.
#include "check/check_schedule.h"

#include <gtest/gtest.h>

#include <set>

#include "upcheck/checker.h"

namespace upcheck {
namespace {

CheckOptions Options(std::optional<int64_t> interval, std::optional<int64_t> fastinter,
                     std::optional<int64_t> downinter, std::optional<int64_t> jitter = {}) {
  CheckOptions o;
  o.type = "http";
  o.http_req = "GET / HTTP/1.0\r\n\r\n";
  o.interval_ms = interval;
  o.fastinter_ms = fastinter;
  o.downinter_ms = downinter;
  o.jitter = jitter;
  return o;
}

TEST(CheckSchedule, DefaultsAreTheOriginals) {
  CheckSchedule s(Options(std::nullopt, std::nullopt, std::nullopt));
  EXPECT_EQ(s.cycle_ms(), 1000);
  EXPECT_FALSE(s.per_peer());
  for (PeerPhase p : {PeerPhase::kSteady, PeerPhase::kBetween, PeerPhase::kDown}) {
    EXPECT_EQ(s.IntervalFor(p), 1000);
    EXPECT_FALSE(s.UsesDueKey(p));
    EXPECT_EQ(s.DrawDelayMs(p, 1000), 1000);
  }
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.DrawCycleMs(), 1000);
}

TEST(CheckSchedule, TheCycleIsTheShortestInterval) {
  CheckSchedule s(Options(2000, 500, 10000));
  EXPECT_EQ(s.cycle_ms(), 500);
  EXPECT_TRUE(s.per_peer());
  EXPECT_EQ(s.IntervalFor(PeerPhase::kSteady), 2000);
  EXPECT_EQ(s.IntervalFor(PeerPhase::kBetween), 500);
  EXPECT_EQ(s.IntervalFor(PeerPhase::kDown), 10000);
  EXPECT_TRUE(s.UsesDueKey(PeerPhase::kSteady));
  EXPECT_FALSE(s.UsesDueKey(PeerPhase::kBetween));
  EXPECT_EQ(s.DrawDelayMs(PeerPhase::kBetween, 500), 500);
  EXPECT_EQ(s.DrawDelayMs(PeerPhase::kDown, 500), 10000);
}

TEST(CheckSchedule, IntervalsBelowTheMinimumAreClampedAsTheOriginals) {
  CheckSchedule s(Options(0, 1, std::nullopt));
  EXPECT_EQ(s.cycle_ms(), 2);
  EXPECT_EQ(s.IntervalFor(PeerPhase::kDown), 2);
}

TEST(CheckSchedule, JitterStaysWithinItsBound) {
  EXPECT_EQ(Jittered(1000, 20, 0), 800);
  EXPECT_EQ(Jittered(1000, 20, 0.5), 1000);
  EXPECT_EQ(Jittered(1000, 20, 1), 1200);
  EXPECT_EQ(Jittered(1000, 100, 0), 2);  // never below the 2 ms minimum
  EXPECT_EQ(Jittered(1000, 0, 1), 1000);

  CheckSchedule s(Options(100, std::nullopt, 1000, 30));
  std::set<int64_t> cycles, delays;
  for (int i = 0; i < 2000; ++i) {
    const int64_t c = s.DrawCycleMs();
    const int64_t d = s.DrawDelayMs(PeerPhase::kDown, c);
    ASSERT_GE(c, 70);
    ASSERT_LE(c, 130);
    ASSERT_GE(d, 700);
    ASSERT_LE(d, 1300);
    cycles.insert(c);
    delays.insert(d);
  }
  // Spread over the range, not stuck at its middle.
  EXPECT_LT(*cycles.begin(), 80);
  EXPECT_GT(*cycles.rbegin(), 120);
  EXPECT_LT(*delays.begin(), 800);
  EXPECT_GT(*delays.rbegin(), 1200);
}

TEST(CheckSchedule, DueKeyExpiresHalfACycleBeforeTheDueTime) {
  EXPECT_EQ(DueKeyTtlMs(1000, 100, 0), 950);
  EXPECT_EQ(DueKeyTtlMs(1000, 100, 30), 920);
  EXPECT_EQ(DueKeyTtlMs(100, 100, 80), 1);  // never 0: that would mean "no expiry"
}

TEST(CheckSchedule, BadOptionsAreRefusedWithSpawnsWords) {
  EXPECT_EQ(ValidateScheduleOptions(Options(100, 0, std::nullopt)).message(),
            "\"fastinter\" option must be > 0");
  EXPECT_EQ(ValidateScheduleOptions(Options(100, std::nullopt, -5)).message(),
            "\"downinter\" option must be > 0");
  EXPECT_EQ(ValidateScheduleOptions(Options(100, std::nullopt, std::nullopt, 101)).message(),
            "\"jitter\" option must be between 0 and 100");
  EXPECT_EQ(ValidateScheduleOptions(Options(100, std::nullopt, std::nullopt, -1)).message(),
            "\"jitter\" option must be between 0 and 100");
  EXPECT_TRUE(ValidateScheduleOptions(Options(100, 1, 1, 100)).ok());
  // The same through the check that `nginx -t` and upcheckd --test run.
  EXPECT_EQ(ValidateCheckOptions(Options(100, 0, std::nullopt)).message(),
            "\"fastinter\" option must be > 0");
}

}  // namespace
}  // namespace upcheck
