// Chaos, item 1: workers killed with SIGKILL at random instants and at exact points of the
// protocol, 1,000 trials (UPCHECK_CHAOS_TRIALS), against real loopback backends and one
// real segment. The test plays nginx's master: it starts three workers (each its own loop,
// view and checker, as upcheckd's), kills one per trial and starts a replacement. A worker is
// this binary run again, not a bare fork of the threaded test process (self_exec.h says why).
//
// The exact points are armed through a page (a memfd) shared with the workers: the next worker to
// reach the armed point stops itself (SIGSTOP) there, and the test kills it while stopped:
// "probing" (a probe about to start), "after_d_write" (the `d:` key written, the version
// not yet published), "before_publish", and "dict_lock" (inside the dict lock, in the
// middle of a mutation). The rest are killed after a uniformly random delay.
//
// After every kill: nothing deadlocks, Verify() passes, the other workers keep probing
// (the backends see new requests), and the `d:` flags match the backends' truth (changed
// back, in half the trials that stop a worker in a turn, while it lies stopped) by the end
// of the (max(fall, rise) + 1)-th lock cycle begun after the kill and after the last change
// of the truth, while one peer flaps under the test's control. Convergence is counted in
// lock cycles, not milliseconds, so a loaded machine cannot fail it: each worker numbers
// the cycles it wins in the shared page and, at the end of each, compares the flags with
// the truth the test wrote there.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "chaos_util.h"
#include "loopback_http_server.h"
#include "self_exec.h"
#include "test_names.h"
#include "upcheck/checker.h"
#include "upcheck/internal/checker_internals.h"
#include "upcheck/internal/dict_test_hooks.h"
#include "upcheck/log.h"
#include "upcheck/segment.h"
#include "upcheck/upstreams.h"

namespace upcheck::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kInterval = 40;  // ms
constexpr int kFall = 2;
constexpr int kRise = 2;
constexpr int kWorkers = 3;
enum Point : int { kNone = 0, kProbing, kAfterDWrite, kBeforePublish, kDictLock, kRandom };
const char* const kPointNames[] = {"none",           "probing",   "after_d_write",
                                   "before_publish", "dict_lock", "random"};

// The five peers' `d:` flags as bits: p0..p3, then b0.
constexpr const char* kDownKeys[] = {"d:app:p0", "d:app:p1", "d:app:p2", "d:app:p3", "d:app:b0"};

// What the flags were at the end of lock cycle n (0: not ended yet).
struct CycleRecord {
  std::atomic<int64_t> n;
  std::atomic<uint32_t> flags;
};
constexpr size_t kRecords = 4096;  // minutes of cycles; a trial judges a few seconds' worth

// One page shared by the test and every worker it starts.
struct ArmShm {
  std::atomic<int> point;
  std::atomic<long> countdown;
  std::atomic<int64_t> lock_cycles;  // lock cycles begun, by every worker
  CycleRecord ended[kRecords];
};
ArmShm* g_arm = nullptr;

uint32_t DownFlags(SharedDict& dict) {
  uint32_t bits = 0;
  for (size_t i = 0; i < std::size(kDownKeys); ++i) {
    auto v = dict.Get(kDownKeys[i]);
    if (v.ok() && v->has_value()) bits |= 1u << i;
  }
  return bits;
}

// Called by a worker at the end of lock cycle number `n`.
void RecordCycle(int64_t n, SharedDict& dict) {
  CycleRecord& r = g_arm->ended[n % kRecords];
  r.n.store(0);
  r.flags.store(DownFlags(dict));
  r.n.store(n);
}

void MaybeStop(int point) {
  if (g_arm->point.load() != point) return;
  if (g_arm->countdown.fetch_sub(1) != 1) return;
  g_arm->point.store(kNone);
  raise(SIGSTOP);
}
void StopInsideDictLock() { MaybeStop(kDictLock); }

// A worker, from its command line: "shm=NAME", "arm_fd=N" (the ArmShm memfd), then
// "primary=ADDRESS" and "backup=ADDRESS" words. Exits 0 only if its loop ends.
int RunWorker(const std::vector<std::string>& args) {
  std::string shm;
  int arm_fd = -1;
  std::vector<PeerConfig> primary, backup;
  for (const std::string& word : args) {
    size_t eq = word.find('=');
    if (eq == std::string::npos) return 6;
    std::string key = word.substr(0, eq), value = word.substr(eq + 1);
    if (key == "shm") {
      shm = value;
    } else if (key == "arm_fd") {
      arm_fd = std::stoi(value);
    } else if (key == "primary") {
      primary.push_back({value});
    } else if (key == "backup") {
      backup.push_back({value});
    } else {
      return 6;
    }
  }
  void* page = mmap(nullptr, sizeof(ArmShm), PROT_READ | PROT_WRITE, MAP_SHARED, arm_fd, 0);
  if (page == MAP_FAILED) return 2;
  g_arm = static_cast<ArmShm*>(page);
  auto seg = Segment::Open(shm);
  if (!seg.ok()) return 3;
  SetDictLockedHookForTesting(&StopInsideDictLock);
  uv_loop_t loop;
  uv_loop_init(&loop);
  Upstreams view;
  if (!view.AddUpstream("app", primary, backup).ok()) return 4;
  Logger logger = Logger::ToCallback([](LogLevel, std::string_view) {}, LogLevel::kError);
  CheckerEnv env;
  env.loop = &loop;
  env.shm_name = shm;
  env.dict = &(*seg)->dict();
  env.upstreams = &view;
  env.logger = &logger;
  int64_t lock_cycle = 0;  // the number of the lock cycle in progress, 0 if none
  env.on_cycle = [&](const CycleEvent& e) {
    if (!e.end && e.probing) lock_cycle = g_arm->lock_cycles.fetch_add(1) + 1;
    if (e.end && lock_cycle != 0) RecordCycle(std::exchange(lock_cycle, 0), *env.dict);
  };
  CheckerInternals internals;
  internals.test_hook = [](std::string_view point) {
    if (point == "probing") MaybeStop(kProbing);
    if (point == "after_d_write") MaybeStop(kAfterDWrite);
    if (point == "before_publish") MaybeStop(kBeforePublish);
  };
  CheckOptions o;
  o.type = "http";
  o.http_req = "GET /health HTTP/1.0\r\nHost: chaos\r\n\r\n";
  o.shm = shm;
  o.upstream = "app";
  o.interval_ms = kInterval;
  o.timeout_ms = 1000;
  o.fall = kFall;
  o.rise = kRise;
  o.valid_statuses = std::vector<double>{200};
  auto checker = SpawnChecker(env, o, internals);
  if (!checker.ok()) return 5;
  uv_run(&loop, UV_RUN_DEFAULT);
  _exit(0);  // the checker and the loop are left as they are
}

const ChildRole kWorker("--chaos-checker-worker", &RunWorker);

class CheckerCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    // Not close-on-exec: every worker maps it.
    arm_fd_ = memfd_create("chaos-arm", 0);
    ASSERT_GE(arm_fd_, 0);
    ASSERT_EQ(ftruncate(arm_fd_, sizeof(ArmShm)), 0);
    void* page = mmap(nullptr, sizeof(ArmShm), PROT_READ | PROT_WRITE, MAP_SHARED, arm_fd_, 0);
    ASSERT_NE(page, MAP_FAILED);
    g_arm = new (page) ArmShm{};
    auto seg = Segment::Create({.name = shm_, .size = 1 << 20});
    ASSERT_TRUE(seg.ok()) << seg.error();
    segment_ = std::move(*seg);
    segment_->Publish();
    ASSERT_TRUE(up1_.ok() && up2_.ok() && flap_.ok() && closed_.ok() && backup_.ok());
    primary_ = {{up1_.address()}, {up2_.address()}, {flap_.address()}, {closed_.address()}};
    backup_peers_ = {{backup_.address()}};
  }
  void TearDown() override {
    for (pid_t p : workers_) kill(p, SIGKILL);
    for (pid_t p : workers_) waitpid(p, nullptr, 0);
    (void)Segment::Remove(shm_);
    if (g_arm != nullptr) munmap(g_arm, sizeof(ArmShm));
    g_arm = nullptr;
    if (arm_fd_ >= 0) close(arm_fd_);
  }

  pid_t StartWorker() {
    std::vector<std::string> args = {"shm=" + shm_, "arm_fd=" + std::to_string(arm_fd_)};
    for (const PeerConfig& p : primary_) args.push_back("primary=" + p.address);
    for (const PeerConfig& p : backup_peers_) args.push_back("backup=" + p.address);
    pid_t pid = StartChild(kWorker, args);
    EXPECT_GT(pid, 0) << "fork failed";
    if (pid > 0) workers_.push_back(pid);
    return pid;
  }

  // The worker that stopped itself, or -1 at the deadline.
  pid_t WaitForStopped(milliseconds deadline) {
    auto end = Clock::now() + deadline;
    while (Clock::now() < end) {
      for (pid_t p : workers_) {
        int status = 0;
        pid_t got = waitpid(p, &status, WNOHANG | WUNTRACED);
        if (got == p && WIFSTOPPED(status)) return p;
        if (got == p) {
          ADD_FAILURE() << "worker " << p << " died on its own: status " << status;
          return -1;
        }
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
    return -1;
  }

  void KillAndReplace(pid_t victim) {
    kill(victim, SIGKILL);
    ASSERT_EQ(waitpid(victim, nullptr, 0), victim);
    workers_.erase(std::find(workers_.begin(), workers_.end(), victim));
    StartWorker();
  }

  // The flags the backends call for: p2 follows the flapping backend, p3 is a closed port,
  // the rest answer 200.
  static uint32_t Truth(bool flap_down) { return (flap_down ? 1u << 2 : 0u) | 1u << 3; }
  bool Converged(bool flap_down) { return DownFlags(segment_->dict()) == Truth(flap_down); }

  // The number of the first lock cycle after `from` that ended with the flags at `truth`,
  // counted from `from`; 0 while cycles from there on have ended otherwise or not yet.
  static int64_t ConvergedIn(int64_t from, uint32_t truth) {
    for (int64_t k = from + 1; k <= g_arm->lock_cycles.load(); ++k) {
      const CycleRecord& r = g_arm->ended[k % kRecords];
      if (r.n.load() != k) return 0;  // still running: judge the cycles in order
      const uint32_t flags = r.flags.load();
      if (r.n.load() != k) return 0;
      if (flags == truth) return k - from;
    }
    return 0;
  }

  int Requests() const {
    return up1_.requests() + up2_.requests() + flap_.requests() + backup_.requests();
  }

  std::string shm_ = UniqueSegmentName("chaoschk");
  std::unique_ptr<Segment> segment_;
  LoopbackHttpServer up1_{Family::kV4, StatusResponse(200)};
  LoopbackHttpServer up2_{Family::kV4, StatusResponse(200)};
  LoopbackHttpServer flap_{Family::kV4, StatusResponse(200)};
  LoopbackClosedPort closed_;
  LoopbackHttpServer backup_{Family::kV4, StatusResponse(200)};
  std::vector<PeerConfig> primary_, backup_peers_;
  std::vector<pid_t> workers_;
  int arm_fd_ = -1;
};

TEST_F(CheckerCrashTest, KilledWorkersNeverDeadlockCorruptOrStallTheState) {
  const int trials = EnvCount("UPCHECK_CHAOS_TRIALS", ChaosLong() ? 5000 : 1000);
  const uint64_t seed = ChaosSeed();
  std::printf("seed %llu, %d trials\n", static_cast<unsigned long long>(seed), trials);
  ChaosRandom r(seed);
  for (int i = 0; i < kWorkers; ++i) StartWorker();
  ASSERT_TRUE(WaitUntil([&] { return Converged(false); }, milliseconds(5000)))
      << "never converged at the start";

  const int64_t bound_cycles = std::max(kFall, kRise) + 1;
  bool flap_down = false;
  std::map<int, int> kills;  // per point
  int not_reached = 0;
  int64_t worst_cycles = 0;
  auto start = Clock::now();
  for (int t = 0; t < trials; ++t) {
    int point = 1 + static_cast<int>(t % 5);  // every kind in turn
    // The truth changes on every after_d_write and before_publish trial (a transition must
    // happen for the worker to reach them) and on a third of the others.
    const bool transition_point = point == kAfterDWrite || point == kBeforePublish;
    if (transition_point || r.Below(3) == 0) {
      flap_down = !flap_down;
      flap_.SetResponse(StatusResponse(flap_down ? 500 : 200));
    }
    pid_t victim = -1;
    if (point != kRandom) {
      long nth = transition_point ? 1 : 1 + static_cast<long>(r.Below(point == kDictLock ? 12 : 3));
      g_arm->countdown.store(nth);
      g_arm->point.store(point);
      victim = WaitForStopped(milliseconds(3000));
      if (victim < 0) {
        g_arm->point.store(kNone);
        victim = WaitForStopped(milliseconds(50));  // it may have stopped just now
      }
      if (victim < 0) ++not_reached;
      // Half the turns are undone by the backend while the victim lies stopped in its turn:
      // the `d:` key it wrote is then wrong, and no survivor's view shares it.
      if (victim > 0 && transition_point && r.Below(2) == 0) {
        flap_down = !flap_down;
        flap_.SetResponse(StatusResponse(flap_down ? 500 : 200));
      }
    }
    if (victim < 0) {
      std::this_thread::sleep_for(milliseconds(r.Below(3 * kInterval)));  // a random instant
      victim = workers_[r.Below(workers_.size())];
      point = kRandom;
    }
    ++kills[point];
    int requests_before = Requests();
    KillAndReplace(victim);
    // Judged from here: after the kill and after the truth's last change.
    const int64_t from = g_arm->lock_cycles.load();

    Status verified = segment_->dict().Verify();
    ASSERT_TRUE(verified.ok()) << "trial " << t << " (" << kPointNames[point] << ", seed " << seed
                               << "): " << verified.message();
    // The deadline only guards against a hang; the bound is in lock cycles.
    int64_t took = 0;
    bool converged = WaitUntil([&] { return (took = ConvergedIn(from, Truth(flap_down))) != 0; },
                               milliseconds(20000));
    ASSERT_TRUE(converged) << "trial " << t << " (" << kPointNames[point] << ", seed " << seed
                           << "): the flags never matched the truth; now "
                           << DownFlags(segment_->dict()) << ", truth " << Truth(flap_down)
                           << ", lock cycles since: " << g_arm->lock_cycles.load() - from;
    worst_cycles = std::max(worst_cycles, took);
    EXPECT_LE(took, bound_cycles) << "trial " << t << " (" << kPointNames[point] << ", seed "
                                  << seed << "): converged in lock cycle " << took;
    ASSERT_TRUE(WaitUntil([&] { return Requests() > requests_before; }, milliseconds(10000)))
        << "trial " << t << ": nobody probes after the kill";
  }
  auto total = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  std::printf("%d trials in %lld ms; kills:", trials, static_cast<long long>(total));
  for (auto [p, n] : kills) std::printf(" %s=%d", kPointNames[p], n);
  std::printf(
      "; armed points not reached in 3 s: %d; slowest convergence: lock cycle %lld after the "
      "kill (bound %lld)\n",
      not_reached, static_cast<long long>(worst_cycles), static_cast<long long>(bound_cycles));
  // Most armed points must really have been hit, or the trials test little.
  EXPECT_LT(not_reached, trials / 10);
}

}  // namespace
}  // namespace upcheck::testing
