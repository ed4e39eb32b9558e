#include "worker_fleet.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <sstream>

#include "self_exec.h"
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

// A worker's part as "key=value" words: argv carries any byte but NUL, so http_req's CR LF
// go as they are.
std::vector<std::string> WorkerArgs(int index, int out_fd, const std::string& shm,
                                    const CheckOptions& o,
                                    const std::vector<FleetUpstream>& upstreams) {
  std::vector<std::string> a = {"index=" + std::to_string(index), "fd=" + std::to_string(out_fd),
                                "shm=" + shm};
  auto number = [&](const char* key, const std::optional<int64_t>& v) {
    if (v) a.push_back(std::string(key) + "=" + std::to_string(*v));
  };
  if (o.type) a.push_back("type=" + *o.type);
  if (o.http_req) a.push_back("http_req=" + *o.http_req);
  number("timeout", o.timeout_ms);
  number("interval", o.interval_ms);
  number("fastinter", o.fastinter_ms);
  number("downinter", o.downinter_ms);
  number("jitter", o.jitter);
  number("concurrency", o.concurrency);
  number("fall", o.fall);
  number("rise", o.rise);
  if (o.valid_statuses) {
    for (double status : *o.valid_statuses) a.push_back("valid=" + FormatDictValue(status));
  }
  for (const FleetUpstream& u : upstreams) {
    a.push_back("upstream=" + u.name);
    for (const PeerConfig& p : u.primary)
      a.push_back((p.down ? "primary_down=" : "primary=") + p.address);
    for (const PeerConfig& p : u.backup)
      a.push_back((p.down ? "backup_down=" : "backup=") + p.address);
  }
  return a;
}

struct WorkerSpec {
  int index = 0;
  int out_fd = -1;
  std::string shm;
  CheckOptions options;
  std::vector<FleetUpstream> upstreams;
};

WorkerSpec ParseWorkerArgs(const std::vector<std::string>& args) {
  WorkerSpec spec;
  for (std::string_view word : args) {
    size_t eq = word.find('=');
    if (eq == std::string_view::npos) _exit(6);
    std::string_view key = word.substr(0, eq);
    std::string value(word.substr(eq + 1));
    CheckOptions& o = spec.options;
    if (key == "index") {
      spec.index = std::stoi(value);
    } else if (key == "fd") {
      spec.out_fd = std::stoi(value);
    } else if (key == "shm") {
      spec.shm = value;
    } else if (key == "type") {
      o.type = value;
    } else if (key == "http_req") {
      o.http_req = value;
    } else if (key == "timeout") {
      o.timeout_ms = std::stoll(value);
    } else if (key == "interval") {
      o.interval_ms = std::stoll(value);
    } else if (key == "fastinter") {
      o.fastinter_ms = std::stoll(value);
    } else if (key == "downinter") {
      o.downinter_ms = std::stoll(value);
    } else if (key == "jitter") {
      o.jitter = std::stoll(value);
    } else if (key == "concurrency") {
      o.concurrency = std::stoll(value);
    } else if (key == "fall") {
      o.fall = std::stoll(value);
    } else if (key == "rise") {
      o.rise = std::stoll(value);
    } else if (key == "valid") {
      if (!o.valid_statuses) o.valid_statuses.emplace();
      o.valid_statuses->push_back(std::stod(value));
    } else if (key == "upstream") {
      spec.upstreams.push_back(FleetUpstream{value, {}, {}});
    } else if (key.starts_with("primary") && !spec.upstreams.empty()) {
      spec.upstreams.back().primary.push_back(PeerConfig{value, key == "primary_down"});
    } else if (key.starts_with("backup") && !spec.upstreams.empty()) {
      spec.upstreams.back().backup.push_back(PeerConfig{value, key == "backup_down"});
    } else {
      _exit(6);
    }
  }
  return spec;
}

// The worker: its own attachment, loop, view, logger and checkers, like upcheckd's. Ends
// with _exit (never returns): its checkers and loop are left as they are.
int RunWorker(const std::vector<std::string>& args) {
  const WorkerSpec spec = ParseWorkerArgs(args);
  auto seg = Segment::Open(spec.shm);
  if (!seg.ok()) _exit(3);
  uv_loop_t loop;
  uv_loop_init(&loop);
  Upstreams ups;
  for (const FleetUpstream& u : spec.upstreams) {
    if (!ups.AddUpstream(u.name, u.primary, u.backup).ok()) _exit(4);
  }
  const int out_fd = spec.out_fd;
  std::string prefix = std::to_string(spec.index) + " ";
  Logger logger = Logger::ToCallback(
      [&](LogLevel level, std::string_view text) {
        Emit(out_fd, prefix + std::to_string(MonotonicMs()) + " log " +
                         std::string(LogLevelName(level)) + " " + std::string(text));
      },
      LogLevel::kDebug);
  std::vector<std::unique_ptr<Checker>> checkers;
  for (const FleetUpstream& u : spec.upstreams) {
    CheckerEnv env;
    env.loop = &loop;
    env.shm_name = spec.shm;
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
    CheckOptions o = spec.options;
    o.shm = spec.shm;
    o.upstream = u.name;
    auto c = Checker::Spawn(env, o);
    if (!c.ok()) {
      Emit(out_fd, prefix + "0 log error spawn failed: " + c.error());
      _exit(5);
    }
    checkers.push_back(std::move(*c));
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  _exit(0);
}

const ChildRole kFleetWorker("--fleet-worker", &RunWorker);

}  // namespace

pid_t WorkerFleet::StartWorker() {
  int index = static_cast<int>(pids_.size());
  pid_t pid = StartChild(kFleetWorker, WorkerArgs(index, pipe_[1], shm_name_, options_, upstreams_),
                         {pipe_[0]});
  EXPECT_GT(pid, 0) << "fork failed";
  pids_.push_back(pid);
  return pid;
}

void WorkerFleet::Kill(int worker, int signal) {
  kill(pids_[worker], signal);
  if (signal == SIGKILL) waitpid(pids_[worker], nullptr, 0);
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
