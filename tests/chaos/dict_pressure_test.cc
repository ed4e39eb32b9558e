// Item 5 of the fault suite (issue 6), dict pressure, against the real upcheckd:
//
//  - A segment whose dict is too small for every key the checkers write: counters are
//    evicted (a counter key the test saw vanishes; checkers never delete one), the dict is
//    full, yet probing goes on and every transition reaches every worker's page and the
//    `d:` flags within fall + 2 rounds of cycles (a round: one cycle per upstream).
//  - `v:`, `d:` and `l:` keys deleted with `upcheck-shmctl del`, or evicted all at once by
//    a burst of junk from another process: the `d:` flags, `v:`, `l:` and every page are
//    right again within the round under way and the next.
//  - A flooder running `upcheck-shmctl set` of junk keys in a loop while a backend flips:
//    transitions still land within the bound.
//
// Keys are made long (six upstreams with 250-byte names: six 64-byte chunks a key) so
// that ~270 keys overflow the smallest dict a segment may hold. The segment size is
// calibrated by a first short run, so the dict holds the hot keys and the `d:` flags but
// not the counters that stop being touched (protocol.md §7.4: the opposite counter of a
// peer in a steady state). fall = rise = 1, so a counter lost to eviction (read as 1)
// changes no outcome; the truth is then a function of the backends alone.
//
// Bounds count cycles, from the registry's per-worker counters, not milliseconds: a loaded
// machine (two cores, a flooder, page polling) stretches cycles, not their number.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chaos_util.h"
#include "daemon_process.h"
#include "loopback_http_server.h"
#include "subprocess.h"
#include "test_names.h"
#include "upcheck/config.h"
#include "upcheck/segment.h"
#include "upcheck/shared_dict.h"

namespace upcheck::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kInterval = 200;  // ms
constexpr int kFall = 1;

constexpr int kUpstreams = 6;
// A round: one cycle of each upstream, kUpstreams on a worker's counter (WorkerCycles). A
// look at the truth reads the counters first: a wrong look after `r` rounds of every
// worker proves the truth took longer than `r` rounds, however slow the look was.
// Transitions: the round under way, one whose probe just missed the change, fall probing
// rounds. Recovery: the round under way when the key went, and the next.
constexpr uint64_t kTransitionBoundRounds = kFall + 2;
constexpr uint64_t kRecoveryBoundRounds = 2;
constexpr int kUp = 1, kFlap = 6, kClosed = 12;  // peers of each upstream, in this order

std::string ShmctlPath() {
  const char* p = std::getenv("UPCHECK_SHMCTL");
  return p ? p : "";
}

class DictPressureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
    ASSERT_FALSE(ShmctlPath().empty()) << "set UPCHECK_SHMCTL to upcheck-shmctl";
    ASSERT_TRUE(up_.ok() && flap_.ok() && closed_.ok());
    config_.shm_name = UniqueSegmentName("press");
    config_.workers = 2;
    for (int u = 0; u < kUpstreams; ++u) {
      TestUpstream t{.name = std::string(248, 'u') + "-" + std::to_string(u),
                     .primary = {},
                     .interval_ms = kInterval,
                     .fall = kFall,
                     .rise = 1,
                     .concurrency = kUp + kFlap + kClosed};
      for (int i = 0; i < kUp; ++i) t.primary.push_back(up_.address());
      for (int i = 0; i < kFlap; ++i) t.primary.push_back(flap_.address());
      for (int i = 0; i < kClosed; ++i) t.primary.push_back(closed_.address());
      config_.upstreams.push_back(t);
    }
  }
  void TearDown() override { (void)Segment::Remove(config_.shm_name); }

  static bool Down(size_t i, bool flap_down) { return i >= kUp + kFlap || (i >= kUp && flap_down); }

  std::string TruePage(bool flap_down) const {
    std::string page;
    for (size_t u = 0; u < config_.upstreams.size(); ++u) {
      const TestUpstream& t = config_.upstreams[u];
      if (u > 0) page += "\n";
      page += "Upstream " + t.name + "\n    Primary Peers\n";
      for (size_t i = 0; i < t.primary.size(); ++i) {
        page += "        " + t.primary[i] + (Down(i, flap_down) ? " DOWN\n" : " UP\n");
      }
      page += "    Backup Peers\n";
    }
    return page;
  }

  std::set<std::string> TrueDownKeys(bool flap_down) const {
    std::set<std::string> keys;
    for (const TestUpstream& t : config_.upstreams) {
      for (size_t i = 0; i < t.primary.size(); ++i) {
        if (Down(i, flap_down)) keys.insert("d:" + t.name + ":p" + std::to_string(i));
      }
    }
    return keys;
  }

  // The segment's live keys with `prefix` (Snapshot does not touch the LRU order).
  std::set<std::string> Keys(const std::string& prefix) {
    std::set<std::string> keys;
    Result<std::unique_ptr<Segment>> seg = Segment::Open(config_.shm_name);
    if (!seg.ok()) return keys;
    for (const DictEntry& e : (*seg)->dict().Snapshot(prefix)) keys.insert(e.key);
    return keys;
  }

  bool FlagsTrue(bool flap_down) { return Keys("d:") == TrueDownKeys(flap_down); }

  // Whether every worker shows the truth: 6 answers in a row, whichever workers gave them;
  // nullopt when a request failed (which shows nothing either way).
  std::optional<bool> PagesTrue(int port, bool flap_down) {
    const std::string want = TruePage(flap_down);
    for (int i = 0; i < 6; ++i) {
      HttpAnswer a = HttpGet(port, "/status", milliseconds(3000));
      if (!a.ok) return std::nullopt;
      if (a.body != want) return false;
    }
    return true;
  }

  // Waits until the flags and every page show the truth (the deadline is a hang guard).
  // Returns the most rounds every worker had ended since `base` before a look that found
  // the truth not shown yet (0: right at the first look), or -1 if it never showed.
  int64_t RoundsToTruth(int port, bool flap_down, const std::map<int32_t, uint64_t>& base,
                        milliseconds deadline = seconds(60)) {
    uint64_t wrong_after = 0;
    bool ok = WaitUntil(
        [&] {
          const uint64_t rounds = cycles_.FewestSince(base) / kUpstreams;
          const std::optional<bool> right =
              FlagsTrue(flap_down) ? PagesTrue(port, flap_down) : std::optional<bool>(false);
          if (right == false) wrong_after = std::max(wrong_after, rounds);
          return right == true;
        },
        deadline);
    return ok ? static_cast<int64_t>(wrong_after) : -1;
  }
  // The daemon's port, once its segment is attached for counting cycles (0 on failure).
  int Start(DaemonProcess& daemon) {
    int port = daemon.StatusPort();
    if (port <= 0 || !Eventually([&] { return cycles_.Attach(config_.shm_name); })) return 0;
    return port;
  }

  void Flip(bool down) { flap_.SetResponse(StatusResponse(down ? 500 : 200)); }

  // Flips the flapping backend 6 times (40 in long runs); after each, waits for the truth
  // to show, expects it within kTransitionBoundRounds, then runs `between`. Returns the
  // most rounds a transition was seen to take, or -1 (a failure recorded) when one never
  // showed.
  int64_t CountFlips(int port, const DaemonProcess& daemon, bool& flap_down,
                     const std::function<void()>& between = {}) {
    int64_t worst = 0;
    const int flips = ChaosLong() ? 40 : 6;
    for (int f = 0; f < flips; ++f) {
      flap_down = !flap_down;
      Flip(flap_down);
      int64_t rounds = RoundsToTruth(port, flap_down, cycles_.Now());
      if (rounds < 0) {
        ADD_FAILURE() << "flip " << f << ": the truth never showed\n" << daemon.err();
        return -1;
      }
      EXPECT_LE(rounds, static_cast<int64_t>(kTransitionBoundRounds))
          << "flip " << f << ": still wrong after " << rounds << " rounds of every worker";
      worst = std::max(worst, rounds);
      if (between) between();
    }
    return worst;
  }

  // Counter keys ever seen, and those later gone: checkers never delete a counter, and
  // neither does the test, so a vanished one was evicted.
  void SampleCounters(bool flap_down) {
    // A flag of a peer that stays down is deleted by nobody: if it is missing, it was
    // evicted (and a lock holder writes it back, Q24).
    std::set<std::string> flags = Keys("d:");
    for (const std::string& k : TrueDownKeys(flap_down)) {
      if (flags.count(k) == 0) evicted_flags_.insert(k);
    }
    std::set<std::string> now = Keys("ok:");
    std::set<std::string> nok = Keys("nok:");
    now.insert(nok.begin(), nok.end());
    for (const std::string& k : seen_counters_) {
      if (now.count(k) == 0) evicted_counters_.insert(k);
    }
    seen_counters_.insert(now.begin(), now.end());
    Result<std::unique_ptr<Segment>> seg = Segment::Open(config_.shm_name);
    if (seg.ok()) {
      DictStats s = (*seg)->dict().Stats();
      min_free_ = std::min(min_free_, s.free_bytes);
    }
  }

  // A short first run at a roomy size measures the dict: the segment size whose dict holds
  // the hot keys and the flags with a margin, but not the cold counters. 0 on failure.
  size_t CalibratedSize();

  LoopbackHttpServer up_{Family::kV4, StatusResponse(200)};
  LoopbackHttpServer flap_{Family::kV4, StatusResponse(200)};
  LoopbackClosedPort closed_;
  TestConfig config_;
  WorkerCycles cycles_;
  std::set<std::string> seen_counters_, evicted_counters_, evicted_flags_;
  size_t min_free_ = SIZE_MAX;
};

size_t DictPressureTest::CalibratedSize() {
  constexpr size_t kProbeSize = 512 * 1024;
  config_.shm_size = std::to_string(kProbeSize);
  DaemonProcess daemon(ConfigToml(config_));
  if (daemon.StatusPort() <= 0) {
    ADD_FAILURE() << daemon.err();
    return 0;
  }
  // Once every peer was probed: one counter a peer, `d:` for the closed ones, v: and l:.
  const size_t peers = kUpstreams * (kUp + kFlap + kClosed);
  const size_t settled = peers + kUpstreams * kClosed + 2 * kUpstreams;
  DictStats stats;
  bool ok = WaitUntil(
      [&] {
        Result<std::unique_ptr<Segment>> seg = Segment::Open(config_.shm_name);
        if (!seg.ok()) return false;
        stats = (*seg)->dict().Stats();
        return stats.entries >= settled;
      },
      seconds(15));
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  if (!ok) {
    ADD_FAILURE() << "the first run never settled: " << stats.entries << " entries\n"
                  << daemon.err();
    return 0;
  }
  const size_t per_key = (stats.capacity_bytes - stats.free_bytes) / stats.entries;
  // Hot: a counter a peer, v: and l:. Flags: closed peers and, while down, the flapping
  // ones. Cold: the flapping peers' other counter once they have flipped.
  const size_t hot_and_flags = peers + 2 * kUpstreams + kUpstreams * (kClosed + kFlap);
  const size_t all = hot_and_flags + kUpstreams * kFlap;
  const size_t want_bytes = (hot_and_flags + (all - hot_and_flags) / 3) * per_key;
  // shm.size is the dict's capacity (in 64-byte chunks); the registry comes on top.
  const size_t size = std::max(kMinShmSize, (want_bytes + 63) / 64 * 64);
  std::printf("%zu bytes a key; keys: %zu hot+flags, %zu all; a %zu-byte dict holds %zu keys\n",
              per_key, hot_and_flags, all, size, size / per_key);
  return size / per_key < all ? size : 0;
}

// (a) Too small for all keys: evictions happen, the checkers keep working, and every
// transition lands within the bound.
TEST_F(DictPressureTest, TooSmallForAllKeys) {
  size_t size = CalibratedSize();
  ASSERT_GT(size, 0u);
  config_.shm_size = std::to_string(size);
  DaemonProcess daemon(ConfigToml(config_));
  int port = Start(daemon);
  ASSERT_GT(port, 0) << daemon.err();
  bool flap_down = false;
  ASSERT_GE(RoundsToTruth(port, flap_down, cycles_.Now()), 0) << daemon.err();
  // Stay a few intervals in each state, watching the counters.
  int64_t worst = CountFlips(port, daemon, flap_down, [&] {
    for (auto end = Clock::now() + milliseconds(3 * kInterval); Clock::now() < end;) {
      SampleCounters(flap_down);
      std::this_thread::sleep_for(milliseconds(20));
    }
  });
  ASSERT_GE(worst, 0);
  // Still probing: every backend gets new requests (the deadline is a hang guard).
  int up_before = up_.requests(), flap_before = flap_.requests();
  EXPECT_TRUE(up_.WaitForRequests(up_before + kUpstreams, seconds(30)));
  EXPECT_TRUE(flap_.WaitForRequests(flap_before + kUpstreams, seconds(30)));
  Result<std::unique_ptr<Segment>> seg = Segment::Open(config_.shm_name);
  ASSERT_TRUE(seg.ok()) << seg.error();
  DictStats stats = (*seg)->dict().Stats();
  EXPECT_TRUE((*seg)->dict().Verify().ok());
  std::printf(
      "segment %zu bytes, dict %zu bytes, %zu entries now, min free %zu bytes; "
      "%zu of %zu counter keys seen were evicted, %zu d: flags seen missing; slowest "
      "transition: still wrong after %lld rounds (bound %llu)\n",
      size, stats.capacity_bytes, stats.entries, min_free_, evicted_counters_.size(),
      seen_counters_.size(), evicted_flags_.size(), static_cast<long long>(worst),
      static_cast<unsigned long long>(kTransitionBoundRounds));
  EXPECT_GT(evicted_counters_.size(), 0u) << "no eviction: the dict was not under pressure";
  EXPECT_LT(min_free_, stats.capacity_bytes / 50) << "the dict was never full";
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  const std::string log = daemon.err();
  EXPECT_EQ(log.find("failed to run healthcheck cycle"), std::string::npos) << log;
  EXPECT_EQ(log.find("no memory"), std::string::npos) << log;
}

// (b) Deleted with upcheck-shmctl, or evicted by a burst from another process: right
// again within the round under way and the next.
TEST_F(DictPressureTest, DeletedOrEvictedKeysAreRightWithinOneInterval) {
  DaemonProcess daemon(ConfigToml(config_));  // roomy (256k): only what the test removes goes
  int port = Start(daemon);
  ASSERT_GT(port, 0) << daemon.err();
  const bool flap_down = true;
  Flip(flap_down);
  ASSERT_GE(RoundsToTruth(port, flap_down, cycles_.Now()), 0) << daemon.err();
  const std::string& u0 = config_.upstreams[0].name;
  const std::string closed_flag = "d:" + u0 + ":p" + std::to_string(kUp + kFlap);
  const std::string flap_flag = "d:" + u0 + ":p" + std::to_string(kUp);
  auto present = [&](const std::string& key) { return Keys(key).count(key) == 1; };
  std::map<std::string, int64_t> recovery;
  for (const std::string& key : {closed_flag, flap_flag, "v:" + u0, "l:" + u0}) {
    ASSERT_TRUE(WaitUntil([&] { return present(key); }, seconds(30))) << key;
    ProcessResult r = RunProcess({ShmctlPath(), "-s", config_.shm_name, "del", key});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Counted from after the del (`l:` comes and goes with every lock, so only the
    // flags and pages, which stay right once right, are judged by rounds).
    const std::map<int32_t, uint64_t> base = cycles_.Now();
    bool back = WaitUntil([&] { return present(key); }, seconds(30));
    int64_t rounds = RoundsToTruth(port, flap_down, base);
    ASSERT_TRUE(back) << key << " never came back\n" << daemon.err();
    ASSERT_GE(rounds, 0) << "after del " << key << "\n" << daemon.err();
    recovery["del " + key.substr(0, 2)] = std::max(recovery["del " + key.substr(0, 2)], rounds);
    EXPECT_LE(rounds, static_cast<int64_t>(kRecoveryBoundRounds)) << "del " << key;
  }

  // A burst of junk from this process evicts every key of the checkers at once.
  {
    Result<std::unique_ptr<Segment>> seg = Segment::Open(config_.shm_name);
    ASSERT_TRUE(seg.ok()) << seg.error();
    SharedDict& dict = (*seg)->dict();
    const std::string junk(1500, 'j');
    int evicting = 0;
    auto checker_keys = [&] {
      size_t n = 0;
      for (const char* p : {"v:", "l:", "d:", "ok:", "nok:"}) n += dict.Snapshot(p).size();
      return n;
    };
    // Twice the dict's worth: the LRU tail, then everything older than the burst, goes.
    const size_t burst = 2 * dict.Stats().capacity_bytes / junk.size();
    for (size_t i = 0; i < burst; ++i) {
      DictStoreResult r = dict.Set("junk:" + std::to_string(i), DictValue(junk));
      ASSERT_TRUE(r.ok()) << r.status.message();
      evicting += r.forcible ? 1 : 0;
    }
    const std::map<int32_t, uint64_t> base = cycles_.Now();
    size_t left = checker_keys();
    std::printf("burst of %zu junk values: %d sets evicted entries; %zu checker keys left\n", burst,
                evicting, left);
    EXPECT_GT(evicting, 0);
    // Workers may have written a few keys back during the burst; most must have gone.
    EXPECT_LT(left, kUpstreams * (kClosed + kFlap)) << "the burst did not evict";
    int64_t rounds = RoundsToTruth(port, flap_down, base);
    ASSERT_GE(rounds, 0) << "after the burst\n" << daemon.err();
    EXPECT_TRUE(WaitUntil([&] { return present("v:" + u0) && present("l:" + u0); }, seconds(30)));
    recovery["burst"] = rounds;
    EXPECT_LE(rounds, static_cast<int64_t>(kRecoveryBoundRounds)) << "after the burst";
  }
  for (const auto& [what, rounds] : recovery) {
    std::printf("%s: still wrong after at most %lld rounds of every worker (bound %llu)\n",
                what.c_str(), static_cast<long long>(rounds),
                static_cast<unsigned long long>(kRecoveryBoundRounds));
  }
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  EXPECT_EQ(daemon.err().find("failed to run healthcheck cycle"), std::string::npos);
}

// (c) Another process floods the dict through upcheck-shmctl while a backend flips.
TEST_F(DictPressureTest, ShmctlFlooderDoesNotDelayTransitions) {
  DaemonProcess daemon(ConfigToml(config_));
  int port = Start(daemon);
  ASSERT_GT(port, 0) << daemon.err();
  bool flap_down = false;
  ASSERT_GE(RoundsToTruth(port, flap_down, cycles_.Now()), 0) << daemon.err();

  std::atomic<bool> stop{false};
  std::atomic<int> sets{0}, forcible{0}, failures{0};
  std::thread flooder([&] {
    const std::string junk(1500, 'j');  // ~24 chunks: 200 keys are several dicts' worth
    for (int i = 0; !stop; ++i) {
      ProcessResult r = RunProcess(
          {ShmctlPath(), "-s", config_.shm_name, "set", "junk:" + std::to_string(i % 200), junk});
      ++sets;
      if (r.exit_code != 0) ++failures;
      if (r.err.find("evicted") != std::string::npos) ++forcible;
    }
  });
  struct Join {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Join() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } join{stop, flooder};
  // Until the flood fills the dict, counted in sets: 200 keys of 1.5 kB are several dicts'
  // worth, so 1,000 sets that evicted nothing fail. (The deadline only guards against a
  // tool that hangs: under ASan on a loaded machine 30 s gave 71 sets, not enough to fill.)
  ASSERT_TRUE(WaitUntil([&] { return forcible > 0 || sets >= 1000; }, seconds(300)))
      << sets << " sets";
  ASSERT_GT(forcible, 0) << sets << " sets evicted nothing";
  int64_t worst = CountFlips(port, daemon, flap_down);
  ASSERT_GE(worst, 0);
  stop = true;
  flooder.join();
  std::printf(
      "flooder: %d sets, %d of them evicted entries, %d failed; slowest transition: still "
      "wrong after %lld rounds (bound %llu)\n",
      sets.load(), forcible.load(), failures.load(), static_cast<long long>(worst),
      static_cast<unsigned long long>(kTransitionBoundRounds));
  EXPECT_EQ(failures, 0);
  EXPECT_GT(forcible, 0);
  Result<std::unique_ptr<Segment>> seg = Segment::Open(config_.shm_name);
  ASSERT_TRUE(seg.ok()) << seg.error();
  EXPECT_TRUE((*seg)->dict().Verify().ok());
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  EXPECT_EQ(daemon.err().find("failed to run healthcheck cycle"), std::string::npos);
}

}  // namespace
}  // namespace upcheck::testing
