// Propagation of a peer's state (issue 5, item 4): from the publishing worker's publish to
// every other worker's Upstreams::Pick().
//
// Forks a backend and N workers on one segment, as upcheckd runs them: each worker has its
// own loop, view and Checker, with the registry's version_hint, and its view's
// before-read hook calls SyncNow(). Peer A turns bad (the backend answers 500) or good
// again, alternately, once per round. The worker that publishes the change stamps
// CLOCK_MONOTONIC at the "before_publish" test hook (so the publish's own dict writes are
// counted in), in a shared mapping; every worker polls (a uv_idle handle sleeping
// --poll-us between polls) with Pick() and stamps the moment its view shows A's new state.
//
//   propagation_bench [--workers 4] [--rounds 50] [--poll-us 100] [--json]
//
// Prints p50 / p99 of "publish -> every other worker's view" (per round, the slowest of
// the other workers) and of each worker's own delay. Not part of pass/fail.
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "upcheck/checker.h"
#include "upcheck/internal/checker_internals.h"
#include "upcheck/internal/registry.h"
#include "upcheck/log.h"
#include "upcheck/segment.h"

namespace upcheck {
namespace {

constexpr int kMaxWorkers = 16;
constexpr int kMaxRounds = 2000;

// In a MAP_SHARED mapping made before fork; the atomics are lock-free, so they work
// across processes.
struct Shared {
  std::atomic<int> round{-1};  // current round; A should be down in even rounds
  std::atomic<int> bad{0};     // the backend answers A with 500
  std::atomic<int> stop{0};
  std::atomic<int> wrong_picks{0};  // A picked after the view showed it down
  std::atomic<int64_t> publish_ns[kMaxRounds];
  std::atomic<int> publisher[kMaxRounds];
  std::atomic<int64_t> seen_ns[kMaxRounds][kMaxWorkers];
};

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int Listen(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 128) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("listen");
    std::exit(1);
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

// The backend: answers every request on listener 0 (peer A) with 500 while `bad`, else
// 200; listener 1 (peer B) always 200. One connection at a time is enough here.
[[noreturn]] void RunBackend(Shared* shared, const int listeners[2]) {
  pollfd fds[2] = {{listeners[0], POLLIN, 0}, {listeners[1], POLLIN, 0}};
  while (shared->stop.load() == 0) {
    if (poll(fds, 2, 100) <= 0) continue;
    for (int k = 0; k < 2; ++k) {
      if ((fds[k].revents & POLLIN) == 0) continue;
      int conn = accept(listeners[k], nullptr, nullptr);
      if (conn < 0) continue;
      std::string request;
      char buffer[1024];
      pollfd in{conn, POLLIN, 0};
      while (request.find("\r\n\r\n") == std::string::npos && poll(&in, 1, 200) > 0) {
        ssize_t n = read(conn, buffer, sizeof(buffer));
        if (n <= 0) break;
        request.append(buffer, static_cast<size_t>(n));
      }
      const char* reply = k == 0 && shared->bad.load() != 0 ? "HTTP/1.0 500 Bad\r\n\r\n"
                                                            : "HTTP/1.0 200 OK\r\n\r\n";
      (void)!write(conn, reply, std::strlen(reply));
      close(conn);
    }
  }
  _exit(0);
}

struct Worker {
  int index = 0;
  Shared* shared = nullptr;
  Upstreams* view = nullptr;
  int poll_us = 100;
  bool turned = false;  // this process's checker flipped A in the current cycle
};

void Poll(uv_idle_t* handle) {
  Worker& w = *static_cast<Worker*>(handle->data);
  Shared& s = *w.shared;
  if (s.stop.load() != 0) {
    uv_stop(handle->loop);
    return;
  }
  const int round = s.round.load(std::memory_order_acquire);
  if (round >= 0 && s.seen_ns[round][w.index].load(std::memory_order_relaxed) == 0) {
    std::optional<PeerInfo> picked = w.view->Pick("bench");  // runs SyncNow() first
    const bool down = w.view->primary_peers(0)[0].down;
    if (down == (round % 2 == 0)) {
      s.seen_ns[round][w.index].store(NowNs());
      if (down && picked && picked->id == 0 && !picked->backup) s.wrong_picks.fetch_add(1);
    }
  }
  if (w.poll_us > 0) {
    timespec pause{0, w.poll_us * 1000L};
    nanosleep(&pause, nullptr);
  }
}

[[noreturn]] void RunWorker(Worker worker, const std::string& segment_name) {
  auto segment = Segment::Open(segment_name);
  if (!segment.ok()) _exit(3);
  auto registry = Registry::Attach(**segment);
  if (!registry.ok()) _exit(4);
  auto view = registry->BuildUpstreams();
  if (!view.ok()) _exit(5);
  worker.view = &*view;
  uv_loop_t loop;
  uv_loop_init(&loop);
  // The checker's "bad status code" lines, every round: not what this measures.
  Logger logger = Logger::ToCallback([](LogLevel, std::string_view) {}, LogLevel::kError);
  Shared& s = *worker.shared;

  CheckerEnv env;
  env.loop = &loop;
  env.shm_name = segment_name;
  env.dict = &(*segment)->dict();
  env.upstreams = &*view;
  env.logger = &logger;
  CheckerInternals internals;
  internals.version_hint = registry->version_hint(0);
  env.on_check = [&](const PeerCheckEvent& e) {
    if (e.id == 0 && !e.backup && e.transition != HealthTransition::kUnchanged)
      worker.turned = true;
  };
  internals.test_hook = [&](std::string_view point) {
    if (point != "before_publish" || !worker.turned) return;
    worker.turned = false;
    const int round = s.round.load();
    const bool down = view->primary_peers(0)[0].down;
    if (round < 0 || down != (round % 2 == 0)) return;
    int64_t none = 0;
    if (s.publish_ns[round].compare_exchange_strong(none, NowNs())) {
      s.publisher[round].store(worker.index);
    }
  };
  CheckOptions options;
  options.type = "http";
  options.http_req = "GET /status HTTP/1.0\r\nHost: bench\r\n\r\n";
  options.shm = segment_name;
  options.upstream = "bench";
  options.interval_ms = 10;
  options.timeout_ms = 1000;
  options.fall = 1;
  options.rise = 1;
  options.valid_statuses = std::vector<double>{200};
  auto checker = SpawnChecker(env, options, internals);
  if (!checker.ok()) {
    std::fprintf(stderr, "worker %d: %s\n", worker.index, checker.error().c_str());
    _exit(6);
  }
  view->SetBeforeReadHook([&] { (*checker)->SyncNow(); });

  uv_idle_t idle;
  uv_idle_init(&loop, &idle);
  idle.data = &worker;
  uv_idle_start(&idle, &Poll);
  uv_run(&loop, UV_RUN_DEFAULT);
  _exit(0);
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

int Main(int argc, char** argv) {
  int workers = 4, rounds = 50, poll_us = 100;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (i + 1 < argc && (a == "--workers" || a == "--rounds" || a == "--poll-us")) {
      int v = std::atoi(argv[++i]);
      (a == "--workers" ? workers : a == "--rounds" ? rounds : poll_us) = v;
    } else {
      std::fprintf(stderr, "usage: %s [--workers N] [--rounds N] [--poll-us N] [--json]\n",
                   argv[0]);
      return 2;
    }
  }
  workers = std::clamp(workers, 2, kMaxWorkers);
  rounds = std::clamp(rounds, 2, kMaxRounds);

  void* memory =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return 1;
  Shared* shared = new (memory) Shared();

  int ports[2];
  const int listeners[2] = {Listen(&ports[0]), Listen(&ports[1])};
  const std::string name = "propagation-bench-" + std::to_string(getpid());
  CheckOptions check;
  check.type = "http";
  check.http_req = "GET /status HTTP/1.0\r\n\r\n";
  std::vector<RegistryUpstreamSpec> specs{
      {"bench",
       {{"127.0.0.1:" + std::to_string(ports[0])}, {"127.0.0.1:" + std::to_string(ports[1])}},
       {},
       check}};
  auto segment = SegmentSetUp::Create({.name = name, .size = 1 << 20, .replace = true},
                                      Registry::BytesNeeded(specs, kMaxWorkers));
  if (!segment.ok()) {
    std::fprintf(stderr, "%s\n", segment.error().c_str());
    return 1;
  }
  auto registry = Registry::Create(**segment, specs, kMaxWorkers);
  if (!registry.ok()) {
    std::fprintf(stderr, "%s\n", registry.error().c_str());
    return 1;
  }
  (*segment)->Publish();

  std::vector<pid_t> children;
  if (pid_t pid = fork(); pid == 0)
    RunBackend(shared, listeners);
  else
    children.push_back(pid);
  for (int w = 0; w < workers; ++w) {
    pid_t pid = fork();
    if (pid == 0) RunWorker(Worker{w, shared, nullptr, poll_us, false}, name);
    children.push_back(pid);
  }
  usleep(300'000);  // the checkers' first cycles: A is up, as configured

  std::vector<double> every, each;  // µs
  int timeouts = 0;
  for (int r = 0; r < rounds; ++r) {
    shared->round.store(r, std::memory_order_release);
    shared->bad.store(r % 2 == 0 ? 1 : 0);
    const int64_t deadline = NowNs() + 5'000'000'000;
    bool done = false;
    while (!done && NowNs() < deadline) {
      usleep(1000);
      const int64_t published = shared->publish_ns[r].load();
      if (published == 0) continue;
      done = true;
      for (int w = 0; w < workers; ++w) done = done && shared->seen_ns[r][w].load() != 0;
    }
    if (!done) {
      ++timeouts;
      continue;
    }
    const int64_t published = shared->publish_ns[r].load();
    double slowest = 0;
    for (int w = 0; w < workers; ++w) {
      if (w == shared->publisher[r].load()) continue;
      const double us = static_cast<double>(shared->seen_ns[r][w].load() - published) / 1000.0;
      each.push_back(us);
      slowest = std::max(slowest, us);
    }
    every.push_back(slowest);
    usleep(20'000 + static_cast<useconds_t>(std::rand() % 10'000));
  }

  shared->stop.store(1);
  for (pid_t pid : children) kill(pid, SIGKILL);
  for (pid_t pid : children) waitpid(pid, nullptr, 0);
  (void)Segment::Remove(name);

  const double p50 = Percentile(every, 50), p99 = Percentile(every, 99);
  const double e50 = Percentile(each, 50), e99 = Percentile(each, 99);
  if (json) {
    std::printf(
        "{\"workers\":%d,\"rounds\":%d,\"timeouts\":%d,\"poll_us\":%d,\"wrong_picks\":%d,"
        "\"pick\":{\"p50_us\":%.1f,\"p99_us\":%.1f,\"n\":%zu},"
        "\"each\":{\"p50_us\":%.1f,\"p99_us\":%.1f,\"n\":%zu}}\n",
        workers, rounds, timeouts, poll_us, shared->wrong_picks.load(), p50, p99, every.size(), e50,
        e99, each.size());
  } else {
    std::printf("propagation: %d workers, %d rounds (%d timed out), polling every %d us\n", workers,
                rounds, timeouts, poll_us);
    std::printf("  publish -> every other worker's Pick() view: p50 %.0f us, p99 %.0f us\n", p50,
                p99);
    std::printf("  publish -> one worker's Pick() view:         p50 %.0f us, p99 %.0f us\n", e50,
                e99);
    std::printf("  picks of the down peer after its view showed it down: %d\n",
                shared->wrong_picks.load());
  }
  return timeouts == rounds ? 1 : 0;
}

}  // namespace
}  // namespace upcheck

int main(int argc, char** argv) { return upcheck::Main(argc, argv); }
