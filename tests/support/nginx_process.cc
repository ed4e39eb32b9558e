#include "nginx_process.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "slow_tool.h"
#include "upcheck/segment.h"

namespace upcheck::testing {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

// Polls `done` every `every` until it holds or the deadline (stretched under valgrind)
// passes.
template <typename F>
bool PollUntil(F done, milliseconds deadline, milliseconds every = milliseconds(10)) {
  const auto end = Clock::now() + Slow(deadline);
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_for(every);
  }
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// /proc/PID/stat's state and parent; false when the process is gone.
bool ProcStat(pid_t pid, char* state, pid_t* ppid) {
  std::string stat = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');  // the command name may itself hold ')'
  if (paren == std::string::npos) return false;
  std::istringstream rest(stat.substr(paren + 1));
  return static_cast<bool>(rest >> *state >> *ppid);
}

std::string Cmdline(pid_t pid) {
  std::string text = ReadWholeFile("/proc/" + std::to_string(pid) + "/cmdline");
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* entry = readdir(proc)) {
    pid_t pid = std::atoi(entry->d_name);
    char state = 0;
    pid_t ppid = 0;
    if (pid > 0 && ProcStat(pid, &state, &ppid) && ppid == parent && state != 'Z') {
      out.push_back(pid);
    }
  }
  closedir(proc);
  std::sort(out.begin(), out.end());
  return out;
}

// Gone, or a zombie: reaped here when it is this process's child (see the subreaper below).
bool Exited(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == pid) return true;
  char state = 0;
  pid_t ppid = 0;
  return !ProcStat(pid, &state, &ppid) || state == 'Z';
}

std::set<std::string> ShmNames(const std::string& body) {
  static const std::regex kShm(R"(upcheck_shm\s+([^\s;]+))");
  std::set<std::string> names;
  for (std::sregex_iterator it(body.begin(), body.end(), kShm), end; it != end; ++it) {
    names.insert((*it)[1].str());
  }
  return names;
}

// The end of a log for an error message: a debug log runs to megabytes.
std::string Tail(const std::string& log) {
  constexpr size_t kKeep = 4000;
  return log.size() <= kKeep ? log : "..." + log.substr(log.size() - kKeep);
}

}  // namespace

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sin);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) == 0) {
    port = ntohs(sin.sin_port);
  }
  close(fd);
  return port;
}

Result<HttpReply> Get(int port, const std::string& path, milliseconds deadline) {
  return LoopbackExchange(port, "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n", deadline);
}

NginxProcess::NginxProcess(Options options) : options_(std::move(options)) {
  // A daemonized master is re-parented to the nearest subreaper: this process, so that it
  // can be reaped here and its exit seen (a zombie would still answer kill(pid, 0)).
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::string pattern = (std::filesystem::temp_directory_path() / "upcheck-nginx-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return;
  prefix_ = pattern;
  // The workers run as nobody: they must reach the logs and the temp paths.
  chmod(prefix_.c_str(), 0755);
  for (const char* dir : {"/conf", "/logs", "/tmp"}) mkdir((prefix_ + dir).c_str(), 0755);
}

NginxProcess::~NginxProcess() {
  Kill();
  for (const std::string& name : segments_) (void)Segment::Remove(name);
  std::error_code ec;
  if (!prefix_.empty()) std::filesystem::remove_all(prefix_, ec);
}

std::string NginxProcess::Binary() {
  const char* path = std::getenv("NGINX");
  return path ? path : "/usr/sbin/nginx";
}

std::string NginxProcess::ModulePath() {
  const char* path = std::getenv("UPCHECK_NGINX_MODULE");
  return path ? path : "";
}

void NginxProcess::WriteConf(const std::string& http_body) {
  std::set<std::string> names = ShmNames(http_body);
  segments_.insert(names.begin(), names.end());
  std::ofstream conf(conf_path(), std::ios::trunc | std::ios::binary);
  // Exactly kFirstBodyLine - 1 lines before the body.
  // Without a module (the harness's own tests) a comment keeps the line numbers.
  const std::string module = ModulePath();
  conf << (module.empty() ? "# no module" : "load_module " + module + ";") << "\n"
       << "pid logs/nginx.pid;\n"
       << "error_log logs/error.log " << options_.log_level << ";\n"
       << "worker_processes " << options_.workers << ";\n"
       << "events { worker_connections 256; }\n"
       << "http {\n"
       << "access_log logs/access.log; client_body_temp_path tmp/body; "
          "proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fastcgi; "
          "uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;\n"
       << http_body << "\n}\n";
}

ProcessResult NginxProcess::Test(const std::string& http_body) {
  WriteConf(http_body);
  return RunProcess({Binary(), "-t", "-p", prefix_, "-e", "logs/error.log", "-c", conf_path()});
}

Status NginxProcess::Start(const std::string& http_body) {
  if (prefix_.empty()) return Status::Error("could not make a temporary prefix");
  WriteConf(http_body);
  ProcessResult run =
      RunProcess({Binary(), "-p", prefix_, "-e", "logs/error.log", "-c", conf_path()});
  if (run.exit_code != 0) {
    return Status::Error("nginx exited " + std::to_string(run.exit_code) + ": " + run.err);
  }
  const std::string pid_file = prefix_ + "/logs/nginx.pid";
  bool have_pid = PollUntil(
      [&] {
        master_ = std::atoi(ReadWholeFile(pid_file).c_str());
        return master_ > 0;
      },
      milliseconds(10000));
  if (!have_pid) return Status::Error("no pid in " + pid_file + "; log: " + Tail(ErrorLog()));
  if (!WaitForWorkers({}, milliseconds(10000))) {
    return Status::Error("the workers did not start; log: " + Tail(ErrorLog()));
  }
  return Status::Ok();
}

Status NginxProcess::Reload(const std::string& http_body) {
  std::vector<pid_t> before = WorkerPids();
  const int emergs = CountLog(R"(\[emerg\])");
  WriteConf(http_body);
  if (master_ <= 0 || kill(master_, SIGHUP) != 0) return Status::Error("no master to signal");
  bool settled = PollUntil(
      [&] {
        return CountLog(R"(\[emerg\])") > emergs ||
               WaitForWorkers({before.begin(), before.end()}, milliseconds(0));
      },
      milliseconds(20000));
  if (!settled)
    return Status::Error("reload: no new workers and no error; log: " + Tail(ErrorLog()));
  if (CountLog(R"(\[emerg\])") > emergs) {
    std::istringstream lines(ErrorLog());
    std::string line, last;
    while (std::getline(lines, line)) {
      if (line.find("[emerg]") != std::string::npos) last = line;
    }
    return Status::Error(last);
  }
  return Status::Ok();
}

Status NginxProcess::Stop() {
  if (master_ <= 0 || exited_) return Status::Ok();
  kill(master_, SIGQUIT);
  if (!WaitForExit(milliseconds(20000))) return Status::Error("nginx did not quit");
  return Status::Ok();
}

bool NginxProcess::MasterRunning() const {
  char state = 0;
  pid_t ppid = 0;
  return master_ > 0 && !exited_ && ProcStat(master_, &state, &ppid) && state != 'Z';
}

std::vector<pid_t> NginxProcess::WorkerPids() const {
  std::vector<pid_t> workers;
  if (master_ <= 0) return workers;
  for (pid_t child : ChildrenOf(master_)) {
    std::string title = Cmdline(child);
    if (title.rfind("nginx: worker process", 0) == 0 &&
        title.find("shutting down") == std::string::npos) {
      workers.push_back(child);
    }
  }
  return workers;
}

bool NginxProcess::WaitForWorkers(const std::set<pid_t>& old, milliseconds deadline) const {
  return PollUntil(
      [&] {
        std::vector<pid_t> now = WorkerPids();
        if (static_cast<int>(now.size()) != options_.workers) return false;
        return std::none_of(now.begin(), now.end(), [&](pid_t p) { return old.count(p) > 0; });
      },
      deadline);
}

bool NginxProcess::WaitForExit(milliseconds deadline) {
  std::vector<pid_t> workers = ChildrenOf(master_);
  exited_ = PollUntil([&] { return Exited(master_); }, deadline);
  // Orphaned workers come to this subreaper too: reap what has ended.
  for (pid_t w : workers) Exited(w);
  return exited_;
}

void NginxProcess::Kill() {
  if (master_ <= 0 || exited_) return;
  std::vector<pid_t> workers = ChildrenOf(master_);
  kill(master_, SIGTERM);
  if (!WaitForExit(milliseconds(5000))) {
    kill(master_, SIGKILL);
    for (pid_t w : workers) kill(w, SIGKILL);
    WaitForExit(milliseconds(5000));
  }
  for (pid_t w : workers) {
    if (!Exited(w)) kill(w, SIGKILL);
    PollUntil([&] { return Exited(w); }, milliseconds(5000));
  }
}

std::string NginxProcess::ErrorLog() const { return ReadWholeFile(prefix_ + "/logs/error.log"); }

int NginxProcess::CountLog(const std::string& regex) const {
  std::regex re(regex);
  std::istringstream lines(ErrorLog());
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) n += std::regex_search(line, re) ? 1 : 0;
  return n;
}

bool NginxProcess::WaitForLog(const std::string& regex, int count, milliseconds deadline) const {
  // A debug log grows fast: scanning it every 50 ms is plenty.
  return PollUntil([&] { return CountLog(regex) >= count; }, deadline, milliseconds(50));
}

}  // namespace upcheck::testing
