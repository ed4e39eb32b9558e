// The README's embedding example, compiled and run: a preforked server that is not upcheckd
// creates the segment before fork, and each child attaches, builds its view, spawns a
// checker on its own libuv loop and picks peers. Public API only (upcheck_dep).
//
// Each child is this binary run again and calls RunWorker() from its command line, not a
// bare fork of the threaded test process (self_exec.h says why).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "loopback_http_server.h"
#include "self_exec.h"
#include "slow_tool.h"
#include "test_names.h"
#include "upcheck/checker.h"
#include "upcheck/log.h"
#include "upcheck/segment.h"
#include "upcheck/upstreams.h"

namespace {

// --- what a preforked server writes (README: "Embedding") -----------------------------
int RunWorker(const std::string& shm, const std::vector<std::string>& peers, int report_fd) {
  auto segment = upcheck::Segment::Open(shm);  // or keep the mapping inherited from fork
  if (!segment.ok()) return 1;
  uv_loop_t loop;  // each worker creates its own loop after fork()
  uv_loop_init(&loop);

  upcheck::Upstreams view;  // this process's own peer states
  view.AddUpstream("foo.com", {{peers[0]}, {peers[1]}}, {{peers[2]}});

  upcheck::Logger log = upcheck::Logger::Stderr(upcheck::LogLevel::kError);
  upcheck::CheckerEnv env;
  env.loop = &loop;
  env.shm_name = shm;
  env.dict = &(*segment)->dict();
  env.upstreams = &view;
  env.logger = &log;

  upcheck::CheckOptions options;
  options.type = "http";
  options.http_req = "GET /status HTTP/1.0\r\nHost: foo.com\r\n\r\n";
  options.shm = shm;
  options.upstream = "foo.com";
  // The cycle lock lasts interval - 1 ms: a probe that outlasts it (a loaded machine, a
  // sanitizer, valgrind) lets the other worker probe and publish the same transition too.
  // The test needs only the first cycle, so the interval can be long.
  options.interval_ms = 2000 * upcheck::testing::SlowToolFactor();
  options.fall = 1;
  options.valid_statuses = std::vector<double>{200};
  auto checker = upcheck::Checker::Spawn(env, options);
  if (!checker.ok()) return 2;
  // Apply what other workers published before every pick.
  view.SetBeforeReadHook([&] { (*checker)->SyncNow(); });

  // The server's own work would run on this loop; here: pick every 10 ms until the 503 peer
  // is out of this view (the first cycle's news), and report the picks of that round, or
  // of the last round at the deadline.
  uv_timer_t timer;
  uv_timer_init(&loop, &timer);
  struct Ctx {
    upcheck::Upstreams* view;
    std::string healthy;
    int fd;
    int rounds_left;
  } ctx{&view, peers[0], report_fd, 2000 * upcheck::testing::SlowToolFactor()};
  timer.data = &ctx;
  uv_timer_start(
      &timer,
      [](uv_timer_t* t) {
        auto* c = static_cast<Ctx*>(t->data);
        std::string picks;
        bool settled = true;
        for (int i = 0; i < 4; ++i) {
          const std::string name = c->view->Pick("foo.com")->name;
          settled = settled && name == c->healthy;
          picks += name + " ";
        }
        if (!settled && --c->rounds_left > 0) return;
        picks += "\n";
        (void)!write(c->fd, picks.data(), picks.size());
        uv_stop(t->loop);
      },
      10, 10);
  uv_run(&loop, UV_RUN_DEFAULT);

  (*checker)->Stop();
  checker->reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  while (uv_run(&loop, UV_RUN_DEFAULT) != 0) {
  }
  return uv_loop_close(&loop) == 0 ? 0 : 3;
}
// ---------------------------------------------------------------------------------------

// A worker from its command line: the segment's name, the report fd, then the peers.
int RunWorkerFromArgs(const std::vector<std::string>& args) {
  if (args.size() != 5) return 6;
  return RunWorker(args[0], {args.begin() + 2, args.end()}, std::stoi(args[1]));
}

const upcheck::testing::ChildRole kWorker("--embedding-worker", &RunWorkerFromArgs);

TEST(Embedding, PreforkedServerUsesTheEngine) {
  using upcheck::testing::LoopbackHttpServer;
  LoopbackHttpServer good(upcheck::testing::Family::kV4, upcheck::testing::StatusResponse(200));
  LoopbackHttpServer bad(upcheck::testing::Family::kV4, upcheck::testing::StatusResponse(503));
  LoopbackHttpServer backup(upcheck::testing::Family::kV4, upcheck::testing::StatusResponse(200));
  std::vector<std::string> peers = {good.address(), bad.address(), backup.address()};

  std::string shm = upcheck::testing::UniqueSegmentName("embed");
  auto segment = upcheck::Segment::Create({.name = shm, .size = 1 << 20});  // parent, before fork
  ASSERT_TRUE(segment.ok()) << segment.error();
  (*segment)->Publish();

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::vector<pid_t> children;
  std::vector<std::string> args = {shm, std::to_string(fds[1])};
  args.insert(args.end(), peers.begin(), peers.end());
  for (int i = 0; i < 2; ++i) {
    pid_t pid = upcheck::testing::StartChild(kWorker, args, {fds[0]});
    ASSERT_GT(pid, 0) << "fork failed";
    children.push_back(pid);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;)
    out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  // Both workers only pick the healthy primary: the 503 peer is down in every view.
  std::string line =
      good.address() + " " + good.address() + " " + good.address() + " " + good.address() + " \n";
  EXPECT_EQ(out, line + line);
  auto version = (*segment)->dict().Get("v:foo.com");
  ASSERT_TRUE(version.ok()) << version.error();
  ASSERT_TRUE(version->has_value()) << "no version was published";
  EXPECT_EQ(std::get<double>(**version), 1.0);
  (void)upcheck::Segment::Remove(shm);
}

}  // namespace
