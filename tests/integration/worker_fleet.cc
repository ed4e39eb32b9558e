#include "worker_fleet.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <sstream>

#include "slow_tool.h"
#include "test_names.h"
#include "upcheck/checker.h"
#include "upcheck/log.h"

namespace upcheck::testing {

WorkerFleet::WorkerFleet(std::vector<FleetUpstream> upstreams, CheckOptions options)
    : upstreams_(std::move(upstreams)),
      options_(std::move(options)),
      shm_name_(UniqueSegmentName("fleet")) {
  auto seg = Segment::Create({.name = shm_name_, .size = 1 << 20});
  EXPECT_TRUE(seg.ok()) << seg.error();
  segment_ = std::move(*seg);
  segment_->Publish();
  options_.shm = shm_name_;
  EXPECT_EQ(pipe(pipe_), 0);
  reader_ = std::thread([this] { ReadLoop(); });
}

WorkerFleet::~WorkerFleet() {
  for (pid_t p : pids_) kill(p, SIGKILL);
  for (pid_t p : pids_) waitpid(p, nullptr, 0);
  close(pipe_[1]);
  reader_.join();
  close(pipe_[0]);
  EXPECT_TRUE(segment_->dict().Verify().ok());
  (void)Segment::Remove(shm_name_);
}

pid_t WorkerFleet::StartWorker() {
  int index = static_cast<int>(pids_.size());
  pid_t pid = fork();
  if (pid == 0) {
    close(pipe_[0]);
    RunWorker(index, pipe_[1]);
    _exit(0);
  }
  pids_.push_back(pid);
  return pid;
}

void WorkerFleet::Kill(int worker, int signal) {
  kill(pids_[worker], signal);
  if (signal == SIGKILL) waitpid(pids_[worker], nullptr, 0);
}

namespace {

void Emit(int fd, const std::string& line) {
  // One write per line: lines from several workers never interleave (< PIPE_BUF).
  std::string l = line.substr(0, 4000) + "\n";
  (void)!write(fd, l.data(), l.size());
}

std::string View(const Upstreams& ups) {
  std::string v;
  for (size_t u = 0; u < ups.upstream_count(); ++u) {
    for (const PeerInfo& p : ups.primary_peers(u)) v += p.down ? 'D' : 'U';
    for (const PeerInfo& p : ups.backup_peers(u)) v += p.down ? 'D' : 'U';
  }
  return v;
}

}  // namespace

// The worker: its own attachment, loop, view, logger and checkers, like upcheckd's.
void WorkerFleet::RunWorker(int index, int out_fd) {
  auto seg = Segment::Open(shm_name_);
  if (!seg.ok()) _exit(3);
  uv_loop_t loop;
  uv_loop_init(&loop);
  Upstreams ups;
  for (const FleetUpstream& u : upstreams_) {
    if (!ups.AddUpstream(u.name, u.primary, u.backup).ok()) _exit(4);
  }
  std::string prefix = std::to_string(index) + " ";
  Logger logger = Logger::ToCallback(
      [&](LogLevel level, std::string_view text) {
        Emit(out_fd, prefix + std::to_string(MonotonicMs()) + " log " +
                         std::string(LogLevelName(level)) + " " + std::string(text));
      },
      LogLevel::kDebug);
  std::vector<std::unique_ptr<Checker>> checkers;
  for (const FleetUpstream& u : upstreams_) {
    CheckerEnv env;
    env.loop = &loop;
    env.shm_name = shm_name_;
    env.dict = &(*seg)->dict();
    env.upstreams = &ups;
    env.logger = &logger;
    env.debug_events = true;
    env.on_cycle = [&](const CycleEvent& e) {
      std::string head = prefix + std::to_string(MonotonicMs());
      if (e.end) {
        Emit(out_fd, head + " end " + FormatDictValue(e.version) + " " + View(ups));
      } else {
        Emit(out_fd, head + " start " + (e.probing ? "1" : "0") + " " + View(ups));
      }
    };
    CheckOptions o = options_;
    o.upstream = u.name;
    auto c = Checker::Spawn(env, o);
    if (!c.ok()) {
      Emit(out_fd, prefix + "0 log error spawn failed: " + c.error());
      _exit(5);
    }
    checkers.push_back(std::move(*c));
  }
  uv_run(&loop, UV_RUN_DEFAULT);
}

void WorkerFleet::ReadLoop() {
  std::string buffer;
  char chunk[4096];
  for (;;) {
    ssize_t n = read(pipe_[0], chunk, sizeof(chunk));
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      std::istringstream in(line);
      FleetEvent e;
      in >> e.worker >> e.ms >> e.kind;
      if (e.kind == "start") {
        int probing = 0;
        in >> probing >> e.view;
        e.probing = probing != 0;
      } else if (e.kind == "end") {
        in >> e.version >> e.view;
      } else {
        in.get();
        std::getline(in, e.text);
      }
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back(std::move(e));
      changed_.notify_all();
    }
  }
}

bool WorkerFleet::WaitFor(const std::function<bool(const std::vector<FleetEvent>&)>& predicate,
                          std::chrono::milliseconds deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, Slow(deadline), [&] { return predicate(events_); });
}

std::vector<FleetEvent> WorkerFleet::events() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_;
}

}  // namespace upcheck::testing
