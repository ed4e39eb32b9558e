// Chaos against the real upcheckd ($UPCHECKD): items 1 and 2 of the fault suite.
//
//  - Worker 1 stops itself at an exact point (UPCHECK_TEST_STOP_AT=<point>:<nth>, see
//    workers/worker.cc) and the test SIGKILLs it there; other trials kill a random worker
//    at a random instant. Every time: the master respawns it, the other workers keep
//    probing, every worker's /status shows the truth within fall + 3 cycles of each
//    surviving worker (counted by the registry, so that a loaded machine, which stretches
//    cycles, does not stretch the bound), and the segment's dict passes Verify().
//  - The master dies (SIGKILL): the workers exit, and the next start cleans up the stale
//    segment and pid file, or with persist reattaches and keeps the `d:` flags.
//
// A worker killed within 2 s of its start counts towards the master's respawn back-off, so
// each victim is killed only once it is 2 s old: these trials are slow, and few by default
// (UPCHECK_CHAOS_DAEMON_TRIALS; 1,000 with UPCHECK_CHAOS_LONG=1).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "chaos_util.h"
#include "daemon_process.h"
#include "loopback_http_server.h"
#include "test_names.h"
#include "upcheck/internal/registry.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

constexpr int kInterval = 100;
constexpr int kFall = 2;
// Cycles each surviving worker may end after the kill while some page is still wrong: the
// cycle under way at the kill, one whose lock the victim still held (its TTL runs out
// first), fall probing cycles, and one more when the victim died between writing the `d:`
// flag and publishing it (the next lock holder turns the peer again).
constexpr uint64_t kBoundCycles = kFall + 3;

struct WorkerInfo {
  int32_t pid;
  int64_t started;  // MonotonicMs() when the test first saw it
};

// /proc/PID/stat, or "" when the process is gone (a read of a vanishing process fails with
// ESRCH, which std::ifstream would turn into an exception).
std::string ReadStat(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// 'T' when the process is stopped, as /proc/PID/stat says.
char ProcState(int32_t pid) {
  std::string text = ReadStat("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() ? '?' : text[paren + 2];
}

// The live (not zombie) children of `parent`, from /proc: unlike the worker table this
// needs no dict lock, which a worker stopped inside it holds.
std::set<int32_t> ChildrenOf(pid_t parent) {
  std::set<int32_t> kids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string text = ReadStat(entry.path() / "stat");
    size_t paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(text.substr(paren + 2));
    char state = 0;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && state != 'Z') kids.insert(std::stoi(name));
  }
  return kids;
}

class DaemonChaosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
    ASSERT_TRUE(up_.ok() && flap_.ok() && closed_.ok() && backup_.ok());
    config_.shm_name = UniqueSegmentName("chaosd");
    config_.workers = 3;
    config_.upstreams = {{.name = "app",
                          .primary = {up_.address(), flap_.address(), closed_.address()},
                          .backup = {backup_.address()},
                          .interval_ms = kInterval,
                          .fall = kFall,
                          .rise = 2}};
  }
  void TearDown() override {
    unsetenv("UPCHECK_TEST_STOP_AT");
    KillStoppedWorkers();
    (void)Segment::Remove(config_.shm_name);
  }

  // A worker stopped by UPCHECK_TEST_STOP_AT ignores SIGTERM (and one stopped inside the
  // dict lock blocks the others): workers this test saw that are stopped get SIGKILL.
  void KillStoppedWorkers() {
    for (int32_t pid : seen_pids_) {
      if (ProcState(pid) == 'T') kill(pid, SIGKILL);
    }
  }

  // SIGTERM, killing workers that stop themselves on the way out; the exit status.
  int StopDaemon(DaemonProcess& daemon) {
    daemon.Signal(SIGTERM);
    int status = -1;
    Eventually(
        [&] {
          KillStoppedWorkers();
          status = daemon.Wait(std::chrono::milliseconds(100));
          return status != -1;
        },
        seconds(20));
    return status;
  }

  std::string Truth(bool flap_down) const {
    return "Upstream app\n    Primary Peers\n        " + up_.address() + " UP\n        " +
           flap_.address() + (flap_down ? " DOWN\n" : " UP\n") + "        " + closed_.address() +
           " DOWN\n    Backup Peers\n        " + backup_.address() + " UP\n";
  }

  // Every worker shows `want`: 8 answers in a row, whichever workers gave them (the
  // deadline is a hang guard). With `cycles` and `base`: before each request, the fewest
  // cycles the workers of `base` have ended since it was read; a wrong page after that
  // proves the truth was still not shown after that many cycles, and *wrong_after gets the
  // most such cycles. (Read before the request, so a slow answer never adds cycles.)
  bool AllPagesShow(int port, const std::string& want, std::chrono::milliseconds deadline,
                    const WorkerCycles* cycles = nullptr,
                    const std::map<int32_t, uint64_t>* base = nullptr,
                    uint64_t* wrong_after = nullptr) {
    int in_a_row = 0;
    return Eventually(
        [&] {
          const uint64_t ended = cycles != nullptr ? cycles->FewestSince(*base) : 0;
          HttpAnswer a = HttpGet(port, "/status", std::chrono::milliseconds(3000));
          const bool right = a.ok && a.body == want;
          // (A failed request shows nothing: it only breaks the run of right answers.)
          if (a.ok && !right && wrong_after != nullptr) {
            *wrong_after = std::max(*wrong_after, ended);
          }
          in_a_row = right ? in_a_row + 1 : 0;
          return in_a_row >= 8;
        },
        deadline);
  }

  bool Verified() {
    Result<std::unique_ptr<Segment>> seg = Segment::Open(config_.shm_name);
    if (!seg.ok()) {
      ADD_FAILURE() << seg.error();
      return false;
    }
    Status st = (*seg)->dict().Verify();
    EXPECT_TRUE(st.ok()) << st.message();
    return st.ok();
  }

  int Requests() const { return up_.requests() + flap_.requests() + backup_.requests(); }

  void RunTrials(const std::string& point, int trials);

  LoopbackHttpServer up_{Family::kV4, StatusResponse(200)};
  LoopbackHttpServer flap_{Family::kV4, StatusResponse(200)};
  LoopbackClosedPort closed_;
  LoopbackHttpServer backup_{Family::kV4, StatusResponse(200)};
  TestConfig config_;
  std::set<int32_t> seen_pids_;
};

// point "" kills a random worker at a random instant.
void DaemonChaosTest::RunTrials(const std::string& point, int trials) {
  const uint64_t seed = ChaosSeed();
  ChaosRandom r(seed);
  std::printf("point '%s', seed %llu, %d trials\n", point.c_str(),
              static_cast<unsigned long long>(seed), trials);
  // The nth time: spread over the first cycles of each worker's life.
  if (!point.empty()) {
    // dict_lock: late enough that a respawned worker does not stop (and block every
    // worker) while the test reads the pages.
    int nth = point == "dict_lock" ? 200 : point == "probing" ? 3 : 1;
    setenv("UPCHECK_TEST_STOP_AT", (point + ":" + std::to_string(nth)).c_str(), 1);
  }
  DaemonProcess daemon(ConfigToml(config_));
  // Runs before the daemon's destructor on every way out, failed assertions included:
  // a stopped worker would keep the output pipes open for ever.
  struct Guard {
    DaemonChaosTest* test;
    ~Guard() { test->KillStoppedWorkers(); }
  } guard{this};
  int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();
  // Attached once a victim is dead: opening the segment takes the dict lock, which a worker
  // stopped inside it keeps.
  WorkerCycles cycles;
  bool attached = false;
  bool flap_down = false;
  if (point != "dict_lock") {
    ASSERT_TRUE(AllPagesShow(port, Truth(flap_down), seconds(30))) << daemon.err();
  }
  std::map<int32_t, Clock::time_point> seen;  // worker pid -> when first seen
  uint64_t worst_cycles = 0;
  for (int t = 0; t < trials; ++t) {
    // A transition, so that after_d_write and before_publish are reached.
    flap_down = !flap_down;
    flap_.SetResponse(StatusResponse(flap_down ? 500 : 200));
    std::set<int32_t> before;
    ASSERT_TRUE(
        Eventually([&] { return (before = ChildrenOf(daemon.pid())).size() == 3; }, seconds(40)))
        << daemon.err();
    for (int32_t pid : before) {
      seen.emplace(pid, Clock::now());
      seen_pids_.insert(pid);
    }
    int32_t victim = 0;
    if (point.empty()) {
      auto it = before.begin();
      std::advance(it, static_cast<long>(r.Below(before.size())));
      victim = *it;
      std::this_thread::sleep_for(std::chrono::milliseconds(r.Below(3 * kInterval)));
    } else {
      // Worker 1 stops itself at the point. It reaches the transition points only when it
      // holds the lock as the truth changes: flip the truth every 5 intervals until then.
      auto flipped = Clock::now();
      ASSERT_TRUE(Eventually(
          [&] {
            for (int32_t pid : ChildrenOf(daemon.pid())) {
              seen_pids_.insert(pid);
              if (ProcState(pid) == 'T') victim = pid;
            }
            if (victim == 0 && Clock::now() - flipped > std::chrono::milliseconds(5 * kInterval)) {
              flap_down = !flap_down;
              flap_.SetResponse(StatusResponse(flap_down ? 500 : 200));
              flipped = Clock::now();
            }
            return victim != 0;
          },
          seconds(30)))
          << "trial " << t << ": no worker stopped at " << point << "\n"
          << daemon.err();
    }
    // Past the master's quick-death window, so that the respawn is immediate.
    seen.emplace(victim, Clock::now());
    std::this_thread::sleep_until(seen[victim] + std::chrono::milliseconds(2100));
    int requests_before = Requests();
    ASSERT_EQ(kill(victim, SIGKILL), 0);
    if (!attached) {
      attached = Eventually([&] { return cycles.Attach(config_.shm_name); });
      ASSERT_TRUE(attached) << daemon.err();
    }
    // Cycles count from here (read after the kill, the truth having changed before it).
    std::map<int32_t, uint64_t> base = cycles.Now();
    base.erase(victim);
    // Respawned: three running workers again, the victim not among them.
    ASSERT_TRUE(Eventually(
        [&] {
          std::set<int32_t> now = ChildrenOf(daemon.pid());
          return now.size() == 3 && now.count(victim) == 0;
        },
        seconds(30)))
        << "trial " << t << ": the master did not respawn " << victim << "\n"
        << daemon.err();
    ASSERT_TRUE(Verified()) << "trial " << t;
    uint64_t wrong_after = 0;
    ASSERT_TRUE(AllPagesShow(port, Truth(flap_down), seconds(30), &cycles, &base, &wrong_after))
        << "trial " << t << ": the pages never showed the truth\n"
        << daemon.err();
    worst_cycles = std::max(worst_cycles, wrong_after);
    EXPECT_LE(wrong_after, kBoundCycles)
        << "trial " << t << ": a page was still wrong after every surviving worker had ended "
        << wrong_after << " cycles since the kill";
    EXPECT_TRUE(Eventually([&] { return Requests() > requests_before; }, seconds(30)))
        << "trial " << t << ": nobody probes after the kill";
  }
  std::printf(
      "a page still wrong after at most %llu cycles of each surviving worker (bound %llu)\n",
      static_cast<unsigned long long>(worst_cycles), static_cast<unsigned long long>(kBoundCycles));
  EXPECT_EQ(StopDaemon(daemon), 0) << daemon.err();
  EXPECT_EQ(daemon.err().find("failed to run healthcheck cycle"), std::string::npos);
}

int Trials(int fallback) {
  return EnvCount("UPCHECK_CHAOS_DAEMON_TRIALS", ChaosLong() ? 200 : fallback);
}

TEST_F(DaemonChaosTest, KilledWhileProbing) { RunTrials("probing", Trials(2)); }
TEST_F(DaemonChaosTest, KilledBetweenTheDownFlagAndThePublish) {
  RunTrials("after_d_write", Trials(2));
}
TEST_F(DaemonChaosTest, KilledBeforePublishing) { RunTrials("before_publish", Trials(2)); }
TEST_F(DaemonChaosTest, KilledInsideTheDictLock) { RunTrials("dict_lock", Trials(2)); }
TEST_F(DaemonChaosTest, KilledAtRandomInstants) { RunTrials("", Trials(3)); }

// ---- Item 2: the master dies --------------------------------------------------------

class MasterDeathTest : public DaemonChaosTest {
 protected:
  void SetUp() override {
    DaemonChaosTest::SetUp();
    dir_ = MakeTempDir();
    config_.pid_file = dir_ + "/upcheckd.pid";
  }
  void TearDown() override {
    RemoveTree(dir_);
    DaemonChaosTest::TearDown();
  }

  std::string PidFileText() const {
    std::ifstream in(config_.pid_file);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return s;
  }

  // Starts a daemon, waits for the truth, kills the master; its workers must follow.
  void StartAndKillTheMaster() {
    DaemonProcess daemon(ConfigToml(config_));
    int port = daemon.StatusPort();
    ASSERT_GT(port, 0) << daemon.err();
    ASSERT_TRUE(AllPagesShow(port, Truth(false), seconds(30))) << daemon.err();
    ASSERT_TRUE(Eventually([&] { return RunningWorkers(config_.shm_name).size() == 3; }));
    std::set<int32_t> workers = RunningWorkers(config_.shm_name);
    EXPECT_EQ(PidFileText(), std::to_string(daemon.pid()) + "\n");
    struct stat st {};
    ASSERT_EQ(stat(config_.pid_file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(st.st_uid, geteuid());
    daemon.Signal(SIGKILL);
    EXPECT_EQ(daemon.Wait(), 128 + SIGKILL);
    EXPECT_TRUE(Eventually(
        [&] {
          for (int32_t pid : workers) {
            if (kill(pid, 0) == 0) return false;
          }
          return true;
        },
        seconds(30)))
        << "workers outlived their master";
    old_pid_ = daemon.pid();
  }

  std::string dir_;
  pid_t old_pid_ = 0;
};

TEST_F(MasterDeathTest, NextStartReplacesTheStaleSegmentAndPidFile) {
  StartAndKillTheMaster();
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(PidFileText(), std::to_string(old_pid_) + "\n") << "the pid file is stale now";
  DaemonProcess next(ConfigToml(config_));
  int port = next.StatusPort();
  ASSERT_GT(port, 0) << next.err();
  EXPECT_TRUE(next.WaitForErr("removing stale segment '" + config_.shm_name + "'")) << next.err();
  EXPECT_TRUE(AllPagesShow(port, Truth(false), seconds(30))) << next.err();
  EXPECT_EQ(PidFileText(), std::to_string(next.pid()) + "\n");
  EXPECT_TRUE(Verified());
  EXPECT_EQ(next.Stop(), 0) << next.err();
}

TEST_F(MasterDeathTest, PersistReattachesAndKeepsTheDownFlags) {
  config_.persist = true;
  StartAndKillTheMaster();
  ASSERT_FALSE(HasFailure());
  // Rare probes needing 5 failures: DOWN at once means the flag survived the crash.
  config_.upstreams[0].interval_ms = 60000;
  config_.upstreams[0].fall = 5;
  DaemonProcess again(ConfigToml(config_));
  int port = again.StatusPort();
  ASSERT_GT(port, 0) << again.err();
  EXPECT_TRUE(again.WaitForErr("reattached to segment '" + config_.shm_name + "'")) << again.err();
  EXPECT_TRUE(AllPagesShow(port, Truth(false), seconds(30))) << again.err();
  EXPECT_EQ(PidFileText(), std::to_string(again.pid()) + "\n");
  EXPECT_TRUE(Verified());
  EXPECT_EQ(again.Stop(), 0) << again.err();
}

}  // namespace
}  // namespace upcheck::testing
