// Admin state propagation (DESIGN §10): from the exit of the real `upcheck-shmctl peer U P
// drain|auto` to the first pick of every worker that obeys it. Target: p99 <= 1 ms.
//
// One segment with a registry, as upcheckd makes it; N forked workers each pick as
// upcheckd's balancer does: Upstreams::Pick() with a before-read hook running
// AdminSync::SyncAll (one admin_seq load per upstream; upcheckd's hook adds each checker's
// SyncNow(), one more load: no checker runs here). Each worker picks every --poll-us,
// stamps CLOCK_MONOTONIC before each pick and keeps the stamp of the first pick whose view
// shows the round's state of peer primary:0. The parent runs the binary (posix_spawn) and
// stamps when waitpid() returns. A pick that began after the exit yet missed the change
// counts as stale (there must be none).
//
//   admin_propagation_bench --shmctl PATH [--workers 4] [--rounds 200] [--poll-us 100]
//
// Not part of pass/fail; exits 1 only when it could not measure.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "upcheck/internal/admin_sync.h"
#include "upcheck/internal/registry.h"
#include "upcheck/internal/segment_setup.h"
#include "upcheck/segment.h"

extern char** environ;

namespace upcheck {
namespace {

constexpr int kMaxWorkers = 16;
constexpr int kMaxRounds = 5000;

// In a MAP_SHARED mapping made before fork; the atomics are lock-free.
struct Shared {
  std::atomic<int> round{-1};  // primary:0 is drained in even rounds, auto in odd ones
  std::atomic<int> stop{0};
  std::atomic<int> ready{0};                                     // workers whose view is built
  std::atomic<int64_t> seen_ns[kMaxRounds][kMaxWorkers];         // first pick showing it
  std::atomic<int64_t> stale_start_ns[kMaxRounds][kMaxWorkers];  // last pick missing it
  std::atomic<int64_t> apply_ns[kMaxRounds][kMaxWorkers];        // that first pick's cost
  std::atomic<int64_t> plain_ns[kMaxWorkers];  // total cost of the picks that changed nothing
  std::atomic<int64_t> plain_picks[kMaxWorkers];
};

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

bool Drained(int round) { return round % 2 == 0; }

// Returns whether the view's primary:0 shows `round`'s admin state.
bool Shows(const Upstreams& view, int round) {
  return (view.primary_peers(0)[0].admin == AdminState::kDrain) == Drained(round);
}

[[noreturn]] void RunWorker(int index, Shared& s, const std::string& name, int poll_us) {
  auto segment = Segment::Open(name);
  if (!segment.ok()) _exit(3);
  auto registry = Registry::Attach(**segment);
  if (!registry.ok()) _exit(4);
  auto view = registry->BuildUpstreams();
  if (!view.ok()) _exit(5);
  AdminSync admin(*registry);
  view->SetBeforeReadHook([&] { admin.SyncAll(*view); });
  s.ready.fetch_add(1);
  int64_t plain = 0, picks = 0;
  while (s.stop.load(std::memory_order_relaxed) == 0) {
    const int round = s.round.load(std::memory_order_acquire);
    const int64_t start = NowNs();
    (void)view->Pick("bench");
    const int64_t end = NowNs();
    if (round >= 0 && s.seen_ns[round][index].load(std::memory_order_relaxed) == 0) {
      if (Shows(*view, round)) {
        s.seen_ns[round][index].store(start);
        s.apply_ns[round][index].store(end - start);
      } else {
        s.stale_start_ns[round][index].store(start);
      }
    } else {
      plain += end - start;
      ++picks;
    }
    if (poll_us > 0) {
      timespec pause{0, poll_us * 1000L};
      nanosleep(&pause, nullptr);
    }
  }
  s.plain_ns[index].store(plain);
  s.plain_picks[index].store(picks);
  _exit(0);
}

// Runs `argv` with stdout and stderr on /dev/null; CLOCK_MONOTONIC when waitpid() returned,
// or -1 if it failed. *spawned: CLOCK_MONOTONIC just before posix_spawn().
int64_t RunToExit(const std::vector<std::string>& args, int64_t* spawned) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  *spawned = NowNs();
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  const int64_t exited = NowNs();
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? exited : -1;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

struct Options {
  std::string shmctl;
  int workers = 4, rounds = 200, poll_us = 100;
};

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--shmctl") {
      o->shmctl = argv[i + 1];
    } else if (a == "--workers" || a == "--rounds" || a == "--poll-us") {
      (a == "--workers"  ? o->workers
       : a == "--rounds" ? o->rounds
                         : o->poll_us) = std::atoi(argv[i + 1]);
    } else {
      return false;
    }
  }
  o->workers = std::clamp(o->workers, 1, kMaxWorkers);
  o->rounds = std::clamp(o->rounds, 2, kMaxRounds);
  return argc % 2 == 1 && !o->shmctl.empty();
}

// The segment and registry upcheckd would make for one upstream of two peers.
Result<std::unique_ptr<Segment>> MakeSegment(const std::string& name) {
  CheckOptions check;
  check.type = "tcp";
  std::vector<RegistryUpstreamSpec> specs{{"bench", {{"127.0.0.1:1"}, {"127.0.0.1:2"}}, {}, check}};
  auto segment = SegmentSetUp::Create({.name = name, .size = 1 << 20, .replace = true},
                                      Registry::BytesNeeded(specs, kMaxWorkers));
  if (!segment.ok()) return segment.status();
  auto registry = Registry::Create(**segment, specs, kMaxWorkers);
  if (!registry.ok()) return registry.status();
  (*segment)->Publish();
  return segment;
}

int64_t CpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// CPU ns per pick in this process, on the same path as the workers': with no admin change,
// and with one before every pick (the change's own SetAdmin timed alone and taken off).
struct PickCost {
  double plain_ns = 0, changed_ns = 0;
};
PickCost MeasurePickCost(Segment& segment) {
  constexpr int kPlain = 1'000'000, kChanged = 100'000;
  auto registry = Registry::Attach(segment);
  auto view = registry->BuildUpstreams();
  if (!registry.ok() || !view.ok()) return {};
  AdminSync admin(*registry);
  view->SetBeforeReadHook([&] { admin.SyncAll(*view); });
  PickCost cost;
  int64_t start = CpuNs();
  for (int i = 0; i < kPlain; ++i) (void)view->Pick("bench");
  cost.plain_ns = static_cast<double>(CpuNs() - start) / kPlain;
  auto toggle = [&](int i) {
    PeerAdmin next;
    next.state = i % 2 == 0 ? AdminState::kDrain : AdminState::kAuto;
    (void)registry->SetAdmin(0, false, 0, next);
  };
  start = CpuNs();
  for (int i = 0; i < kChanged; ++i) toggle(i);
  const int64_t writes = CpuNs() - start;
  start = CpuNs();
  for (int i = 0; i < kChanged; ++i) {
    toggle(i);
    (void)view->Pick("bench");
  }
  cost.changed_ns = static_cast<double>(CpuNs() - start - writes) / kChanged;
  (void)registry->SetAdmin(0, false, 0, {});
  return cost;
}

struct Figures {
  std::vector<double> every_us, apply_ns;
  std::vector<double> from_spawn_us, command_us;  // the same from posix_spawn; its run time
  int timeouts = 0, failures = 0, stale = 0, before_exit = 0;
};

// One round: the command, then until every worker has seen it (5 s at most).
void RunRound(const Options& o, const std::string& name, Shared& s, int r, Figures& f) {
  s.round.store(r, std::memory_order_release);
  int64_t spawned = 0;
  const int64_t exited =
      RunToExit({o.shmctl, "-s", name, "peer", "bench", "primary:0", Drained(r) ? "drain" : "auto"},
                &spawned);
  if (exited < 0) {
    ++f.failures;
    return;
  }
  const int64_t deadline = NowNs() + 5'000'000'000;
  bool done = false;
  while (!done && NowNs() < deadline) {
    done = true;
    for (int w = 0; w < o.workers; ++w) done = done && s.seen_ns[r][w].load() != 0;
    if (!done) usleep(200);
  }
  if (!done) {
    ++f.timeouts;
    return;
  }
  int64_t last = 0;
  for (int w = 0; w < o.workers; ++w) {
    last = std::max(last, s.seen_ns[r][w].load());
    f.apply_ns.push_back(static_cast<double>(s.apply_ns[r][w].load()));
    f.stale += s.stale_start_ns[r][w].load() > exited;
  }
  f.every_us.push_back(static_cast<double>(last - exited) / 1000.0);
  f.from_spawn_us.push_back(static_cast<double>(last - spawned) / 1000.0);
  f.command_us.push_back(static_cast<double>(exited - spawned) / 1000.0);
  f.before_exit += last < exited;
}

void Report(const Options& o, const Figures& f, const Shared& s, const PickCost& cost) {
  int64_t plain = 0, picks = 0;
  for (int w = 0; w < o.workers; ++w) {
    plain += s.plain_ns[w].load();
    picks += s.plain_picks[w].load();
  }
  const double p99 = Percentile(f.every_us, 99);
  std::printf(
      "admin propagation: %d workers, %d rounds (%d timed out, %d commands failed), "
      "a pick every %d us\n",
      o.workers, o.rounds, f.timeouts, f.failures, o.poll_us);
  std::printf(
      "  shmctl exit -> last worker's first pick obeying it: p50 %.1f us, p99 %.1f us, "
      "max %.1f us (n=%zu): p99 <= 1 ms %s\n",
      Percentile(f.every_us, 50), p99, Percentile(f.every_us, 100), f.every_us.size(),
      p99 <= 1000.0 && !f.every_us.empty() ? "met" : "MISSED");
  std::printf("  rounds in which every worker obeyed before the exit: %d\n", f.before_exit);
  std::printf(
      "  posix_spawn -> last worker obeying: p50 %.1f us, p99 %.1f us; the command "
      "ran p50 %.1f us, p99 %.1f us\n",
      Percentile(f.from_spawn_us, 50), Percentile(f.from_spawn_us, 99),
      Percentile(f.command_us, 50), Percentile(f.command_us, 99));
  std::printf("  picks begun after the exit that missed the change: %d\n", f.stale);
  std::printf(
      "  pick cost (CLOCK_MONOTONIC around Pick(), stamps included): no change %.0f ns "
      "(mean of %lld); applying a change p50 %.0f ns, p99 %.0f ns\n",
      picks > 0 ? static_cast<double>(plain) / static_cast<double>(picks) : 0.0,
      static_cast<long long>(picks), Percentile(f.apply_ns, 50), Percentile(f.apply_ns, 99));
  std::printf(
      "  pick cost in one process (CPU time, loop means): no change %.1f ns, applying a "
      "change %.1f ns\n",
      cost.plain_ns, cost.changed_ns);
}

int Main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    std::fprintf(stderr, "usage: %s --shmctl PATH [--workers N] [--rounds N] [--poll-us N]\n",
                 argv[0]);
    return 2;
  }
  void* memory =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return 1;
  Shared* shared = new (memory) Shared();
  const std::string name = "admin-propagation-bench-" + std::to_string(getpid());
  auto segment = MakeSegment(name);
  if (!segment.ok()) {
    std::fprintf(stderr, "%s\n", segment.error().c_str());
    return 1;
  }
  const PickCost cost = MeasurePickCost(**segment);
  std::vector<pid_t> children;
  for (int w = 0; w < o.workers; ++w) {
    pid_t pid = fork();
    if (pid == 0) RunWorker(w, *shared, name, o.poll_us);
    children.push_back(pid);
  }
  const int64_t ready_by = NowNs() + 10'000'000'000;
  while (shared->ready.load() < o.workers && NowNs() < ready_by) usleep(1000);
  if (shared->ready.load() < o.workers) {
    std::fprintf(stderr, "a worker could not attach to the segment\n");
    shared->stop.store(1);
    for (pid_t pid : children) kill(pid, SIGKILL);
    for (pid_t pid : children) waitpid(pid, nullptr, 0);
    (void)Segment::Remove(name);
    return 1;
  }
  Figures f;
  for (int r = 0; r < o.rounds; ++r) {
    RunRound(o, name, *shared, r, f);
    usleep(2'000 + static_cast<useconds_t>(std::rand() % 3'000));
  }
  shared->stop.store(1);
  for (pid_t pid : children) waitpid(pid, nullptr, 0);
  (void)Segment::Remove(name);
  Report(o, f, *shared, cost);
  return f.every_us.empty() ? 1 : 0;
}

}  // namespace
}  // namespace upcheck

int main(int argc, char** argv) { return upcheck::Main(argc, argv); }
