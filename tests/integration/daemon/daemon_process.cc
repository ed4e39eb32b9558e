#include "daemon_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "loopback_exchange.h"
#include "slow_tool.h"

extern char** environ;

namespace upcheck::testing {

std::string UpcheckdPath() {
  const char* path = std::getenv("UPCHECKD");
  return path ? path : "";
}

std::string MakeTempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "upcheckd-test-XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  return made ? std::string(made) : std::string();
}

void RemoveTree(const std::string& dir) {
  std::error_code ec;
  if (!dir.empty()) std::filesystem::remove_all(dir, ec);
}

void WriteFile(const std::string& path, std::string_view text) {
  std::ofstream(path, std::ios::trunc | std::ios::binary) << text;
}

namespace {

std::string List(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", \"" : "\"") + items[i] + "\"";
  return out + "]";
}

}  // namespace

std::string ConfigToml(const TestConfig& c) {
  std::ostringstream t;
  t << "[shm]\nname = \"" << c.shm_name << "\"\nsize = \"" << c.shm_size
    << "\"\npersist = " << (c.persist ? "true" : "false") << "\n";
  if (!c.reload_state.empty()) t << "reload_state = \"" << c.reload_state << "\"\n";
  t << "\n[daemon]\nworkers = " << c.workers << "\nlog_level = \"" << c.log_level << "\"\n";
  if (!c.status_listen.empty()) t << "status_listen = \"" << c.status_listen << "\"\n";
  if (!c.pid_file.empty()) t << "pid_file = \"" << c.pid_file << "\"\n";
  if (!c.on_event.empty()) t << "on_event = \"" << c.on_event << "\"\n";
  if (c.on_event_timeout_ms > 0) t << "on_event_timeout = " << c.on_event_timeout_ms << "\n";
  if (!c.fleet_toml.empty()) t << "\n" << c.fleet_toml << "\n";
  for (const TestUpstream& u : c.upstreams) {
    t << "\n[[upstream]]\nname = \"" << u.name << "\"\nprimary = " << List(u.primary) << "\n";
    if (!u.backup.empty()) t << "backup = " << List(u.backup) << "\n";
    if (!u.balancer_listen.empty()) t << "balancer_listen = \"" << u.balancer_listen << "\"\n";
    if (!u.slow_start.empty()) t << "slow_start = \"" << u.slow_start << "\"\n";
    if (u.panic_threshold > 0) t << "panic_threshold = " << u.panic_threshold << "\n";
    if (!u.check) continue;
    t << "\n[upstream.check]\ntype = \"http\"\n"
      << "http_req = \"GET /health HTTP/1.0\\r\\nHost: test\\r\\n\\r\\n\"\n"
      << "interval = " << u.interval_ms << "\ntimeout = " << SlowInterval(1000)
      << "\nfall = " << u.fall << "\nrise = " << u.rise << "\nvalid_statuses = [200]\n";
    if (u.concurrency > 0) t << "concurrency = " << u.concurrency << "\n";
  }
  return t.str();
}

std::string ThroughBalancer(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5 * SlowToolFactor(), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string got;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\n\r\n";
    (void)!write(fd, request.data(), request.size());
    char buf[1024];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  size_t body = got.find("\r\n\r\n");
  return body == std::string::npos ? got : got.substr(body + 4);
}

std::set<int32_t> RunningWorkers(const std::string& shm) {
  std::set<int32_t> pids;
  Result<std::unique_ptr<Segment>> seg = Segment::Open(shm);
  if (!seg.ok()) return pids;
  Result<Registry> reg = Registry::Attach(**seg);
  if (!reg.ok()) return pids;
  for (const WorkerRow& row : reg->Workers()) {
    if (row.state == WorkerState::kRunning) pids.insert(row.pid);
  }
  return pids;
}

HttpAnswer HttpGet(int port, const std::string& path, milliseconds deadline) {
  HttpAnswer a;
  Result<HttpReply> reply = LoopbackExchange(
      port, "GET " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", deadline);
  if (!reply.ok()) {
    a.error = reply.error();
    return a;
  }
  a.ok = true;
  a.status = reply->status;
  a.headers = std::move(reply->headers);
  a.body = std::move(reply->body);
  return a;
}

DaemonProcess::DaemonProcess(const std::string& toml) : dir_(MakeTempDir()) {
  config_path_ = dir_ + "/upcheck.toml";
  WriteFile(config_path_, toml);
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  std::string binary = UpcheckdPath();
  std::vector<std::string> args = {binary, "-c", config_path_};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(err[1]);
  reader_ = std::thread([this, o = out[0], e = err[0]] { ReadLoop(o, e); });
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0 && !exit_status_) {
    kill(pid_, SIGKILL);  // its workers follow (PR_SET_PDEATHSIG, watch pipe)
    waitpid(pid_, nullptr, 0);
  }
  if (reader_.joinable()) reader_.join();
  RemoveTree(dir_);
}

void DaemonProcess::ReadLoop(int out_fd, int err_fd) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&out_, &err_};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof(buf));
      if (got > 0) {
        std::lock_guard<std::mutex> lock(mutex_);
        sinks[i]->append(buf, static_cast<size_t>(got));
        changed_.notify_all();
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  // Every process holding the pipes (the master and its workers) is gone.
  std::lock_guard<std::mutex> lock(mutex_);
  eof_ = true;
  changed_.notify_all();
}

void DaemonProcess::Rewrite(const std::string& toml) { WriteFile(config_path_, toml); }

void DaemonProcess::Signal(int signum) {
  if (pid_ > 0 && !exit_status_) kill(pid_, signum);
}

bool DaemonProcess::WaitForErr(std::string_view needle, milliseconds deadline, size_t from) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, deadline, [&] {
    return err_.size() >= from && err_.find(needle, from) != std::string::npos;
  });
}

std::string DaemonProcess::err() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return err_;
}

std::string DaemonProcess::out() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return out_;
}

int DaemonProcess::PortAfter(const std::string& prefix, milliseconds deadline) {
  if (!WaitForErr(prefix, deadline)) return 0;
  std::string text = err();
  size_t at = text.find(prefix) + prefix.size();
  size_t end = text.find('\n', at);
  std::string address = text.substr(at, end - at);
  return std::atoi(address.substr(address.rfind(':') + 1).c_str());
}

int DaemonProcess::StatusPort(milliseconds deadline) {
  return PortAfter("upcheckd: status listener on ", deadline);
}

int DaemonProcess::BalancerPort(const std::string& upstream, milliseconds deadline) {
  return PortAfter("upcheckd: balancer listener for " + upstream + " on ", deadline);
}

int DaemonProcess::Wait(milliseconds deadline) {
  if (exit_status_) return *exit_status_;
  if (pid_ <= 0) return -1;
  int status = 0;
  bool done = Eventually([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, deadline);
  if (!done) return -1;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  // The master's last lines may still be in the pipe: read on to the end of its output
  // (its workers' too, which follow it), so that err() holds everything it said.
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, Slow(deadline), [&] { return eof_; });
  return *exit_status_;
}

int DaemonProcess::Stop(milliseconds deadline) {
  Signal(SIGTERM);
  return Wait(deadline);
}

bool WorkerCycles::Attach(const std::string& shm) {
  Result<std::unique_ptr<Segment>> seg = Segment::Open(shm);
  if (!seg.ok()) return false;
  Result<Registry> reg = Registry::Attach(**seg);
  if (!reg.ok()) return false;
  segment_ = std::move(*seg);
  registry_.emplace(std::move(*reg));
  return true;
}

std::map<int32_t, uint64_t> WorkerCycles::Now() const {
  std::map<int32_t, uint64_t> cycles;
  if (!registry_) return cycles;
  for (const WorkerRow& row : registry_->Workers()) {
    if (row.state == WorkerState::kRunning) cycles[row.pid] = row.cycles;
  }
  return cycles;
}

uint64_t WorkerCycles::FewestSince(const std::map<int32_t, uint64_t>& base) const {
  std::optional<uint64_t> fewest;
  for (const auto& [pid, cycles] : Now()) {
    auto it = base.find(pid);
    if (it == base.end()) continue;
    uint64_t ended = cycles >= it->second ? cycles - it->second : 0;
    fewest = fewest ? std::min(*fewest, ended) : ended;
  }
  return fewest.value_or(0);
}

bool PublishedDown(const std::string& shm, const std::vector<std::string>& keys, bool down) {
  std::map<int32_t, uint64_t> cycles;
  return Eventually([&] {
    Result<std::unique_ptr<Segment>> seg = Segment::Open(shm);
    if (!seg.ok()) return false;
    Result<Registry> reg = Registry::Attach(**seg);
    if (!reg.ok()) return false;
    if (cycles.empty()) {
      for (const std::string& key : keys) {
        Result<std::optional<DictValue>> v = (*seg)->dict().Get(key);
        const bool is_down = v.ok() && v->has_value() && **v == DictValue(true);
        if (is_down != down) return false;
      }
      for (const WorkerRow& row : reg->Workers()) {
        if (row.state == WorkerState::kRunning) cycles[row.pid] = row.cycles;
      }
      return false;
    }
    size_t ended = 0;
    for (const WorkerRow& row : reg->Workers()) {
      auto it = cycles.find(row.pid);
      if (it != cycles.end() && row.cycles > it->second) ++ended;
    }
    return ended == cycles.size();
  });
}

}  // namespace upcheck::testing
