// Item 7 of the fault suite (issue 6), against the real upcheckd and tools:
//
//  - The tools refuse a segment owned by another user, with a message naming the owner,
//    unless run as root; root may read anyone's segment. A child drops to uid/gid 65534
//    (nobody) before it execs the tool, so these parts need root and skip themselves
//    otherwise. The tools run as 65534 are copies in a directory of their own under /tmp:
//    the build may live where that user cannot reach (a clone under /root, mode 0700).
//  - `status_listen` given as a port alone listens on 127.0.0.1 only (/proc/net/tcp{,6}).
//  - Slow clients (idle ones, and ones sending a byte every 250 ms) do not starve a worker:
//    its other clients are served promptly, and the slow ones are cut off at the request
//    timeout (5 s) however they trickle.
//  - No log line carries status request bytes; probe response bytes appear only where the
//    original logs them (`bad status line from <name>: <line>`, at error), escaped and cut.
// Loopback only; every wait polls with a deadline.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "chaos_util.h"
#include "daemon_process.h"
#include "loopback_http_server.h"
#include "subprocess.h"
#include "test_names.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

constexpr bool kAsan = kUnderAsan;

constexpr uid_t kNobody = 65534;

std::string ToolPath(const char* env) {
  const char* path = std::getenv(env);
  return path ? path : "";
}

// Runs argv as uid/gid `uid` (root drops its groups first) and captures what it said.
ProcessResult RunAs(uid_t uid, const std::vector<std::string>& args) {
  ProcessResult r;
  std::vector<char*> argv;
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return r;
  pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    if (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0) _exit(126);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    execv(argv[0], argv.data());
    const char kExecFailed[] = "RunAs: exec failed\n";
    (void)!write(STDERR_FILENO, kExecFailed, sizeof(kExecFailed) - 1);
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  auto deadline = Clock::now() + seconds(20);
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0 && Clock::now() < deadline) {
    if (poll(fds, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  if (open_fds > 0) {
    kill(pid, SIGKILL);
    r.timed_out = true;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Copies of programs where another user can execute them: a fresh directory under /tmp,
// mode 0755, with each file copied in at 0755, whatever the modes of the directories that
// hold the build. Removed by the destructor. The tools link no library of the build (only
// system ones), so a copy runs from anywhere.
class ReachableCopies {
 public:
  explicit ReachableCopies(const std::vector<std::string>& programs) {
    char pattern[] = "/tmp/upcheck-tools-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      error_ = std::string("mkdtemp under /tmp: ") + std::strerror(errno);
      return;
    }
    dir_ = pattern;
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::permissions(dir_, fs::perms(0755), ec);
    for (const std::string& program : programs) {
      if (ec) break;
      const std::string copy = dir_ + "/" + fs::path(program).filename().string();
      fs::copy_file(program, copy, ec);
      if (!ec) fs::permissions(copy, fs::perms(0755), ec);
      copies_.push_back(copy);
    }
    if (ec) error_ = "copying the tools to " + dir_ + ": " + ec.message();
  }
  ~ReachableCopies() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  ReachableCopies(const ReachableCopies&) = delete;
  ReachableCopies& operator=(const ReachableCopies&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  // The copy of the i-th program.
  const std::string& operator[](size_t i) const { return copies_[i]; }

 private:
  std::string dir_, error_;
  std::vector<std::string> copies_;
};

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
    ASSERT_TRUE(up_.ok());
    config_.shm_name = UniqueSegmentName("sec");
    config_.workers = 1;
    config_.upstreams = {{.name = "app", .primary = {up_.address()}}};
  }
  void TearDown() override { (void)Segment::Remove(config_.shm_name); }

  LoopbackHttpServer up_{Family::kV4, StatusResponse(200)};
  TestConfig config_;
};

// ---- The tools and another user's segment ------------------------------------------

TEST_F(SecurityTest, ToolsRefuseAnotherUsersSegmentUnlessRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: a child drops to uid 65534";
  ASSERT_FALSE(ToolPath("UPCHECK_SHMCTL").empty() || ToolPath("UPCHECK_STATUS").empty())
      << "set UPCHECK_SHMCTL and UPCHECK_STATUS";
  // The build directory may be out of uid 65534's reach: it runs copies.
  ReachableCopies copies({ToolPath("UPCHECK_SHMCTL"), ToolPath("UPCHECK_STATUS")});
  ASSERT_TRUE(copies.ok()) << copies.error();
  const std::string &shmctl = copies[0], &status = copies[1];
  ProcessResult probe = RunAs(kNobody, {shmctl, "--help"});
  if (probe.exit_code == 127 && probe.err.find("RunAs: exec failed") != std::string::npos) {
    GTEST_SKIP() << "uid 65534 cannot execute " << shmctl << " (is /tmp mounted noexec?)";
  }
  DaemonProcess daemon(ConfigToml(config_));
  int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();
  const std::string& name = config_.shm_name;
  const std::string file = "/dev/shm/" + SegmentObjectName(name);
  ASSERT_TRUE(Eventually([&] { return Segment::Open(name).ok(); })) << daemon.err();
  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0) << file;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, 0u);
  const std::vector<std::vector<std::string>> tools = {
      {shmctl, "-s", name, "info"}, {shmctl, "-s", name, "keys"}, {status, "-s", name}};

  // 0600 and root's: the kernel refuses the open; the message still names the owner.
  const std::string owned = "segment '" + name + "' is owned by another user (uid 0)";
  for (const auto& argv : tools) {
    ProcessResult r = RunAs(kNobody, argv);
    EXPECT_EQ(r.exit_code, 1) << argv[0] << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(owned + "; run as that user or as root (permission denied)"),
              std::string::npos)
        << argv[0] << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  }

  // Readable by all: the open succeeds, and the tools' own owner check refuses.
  ASSERT_EQ(chmod(file.c_str(), 0666), 0);
  for (const auto& argv : tools) {
    ProcessResult r = RunAs(kNobody, argv);
    EXPECT_EQ(r.exit_code, 1) << argv[0] << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(owned + "; run as that user or as root\n"), std::string::npos)
        << argv[0] << ": " << r.err;
    EXPECT_EQ(r.out, "") << "nothing of the segment is shown";
  }
  ASSERT_EQ(chmod(file.c_str(), 0600), 0);

  // Owned by nobody now: root still reads it, and the page is the daemon's.
  ASSERT_EQ(chown(file.c_str(), kNobody, kNobody), 0);
  std::string want =
      "Upstream app\n    Primary Peers\n        " + up_.address() + " UP\n    Backup Peers\n";
  ASSERT_TRUE(Eventually([&] { return HttpGet(port, "/status").body == want; })) << daemon.err();
  for (const auto& argv : tools) {
    ProcessResult r = RunProcess(argv);
    EXPECT_EQ(r.exit_code, 0) << argv[0] << "\n" << r.err;
  }
  EXPECT_EQ(RunProcess({status, "-s", name}).out, want);
  // And nobody, the owner, may open it (0600, its own): the refusal was about ownership.
  ProcessResult own = RunAs(kNobody, {shmctl, "-s", name, "info"});
  EXPECT_EQ(own.exit_code, 0) << own.err;
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

// ---- The status listener ------------------------------------------------------------

struct ListenEntry {
  std::string address;  // /proc's hex, e.g. "0100007F"
  int port;
};

// Listening sockets (state 0A) from /proc/net/tcp or tcp6.
std::vector<ListenEntry> Listening(const char* table) {
  std::vector<ListenEntry> out;
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string slot, local, remote, state;
    f >> slot >> local >> remote >> state;
    size_t colon = local.rfind(':');
    if (state != "0A" || colon == std::string::npos) continue;
    out.push_back({local.substr(0, colon), std::stoi(local.substr(colon + 1), nullptr, 16)});
  }
  return out;
}

TEST_F(SecurityTest, StatusListenGivenAPortAloneBindsLoopbackOnly) {
  config_.status_listen = "0";  // a port alone (0: any free one)
  DaemonProcess daemon(ConfigToml(config_));
  ASSERT_TRUE(daemon.WaitForErr("upcheckd: status listener on 127.0.0.1:")) << daemon.err();
  int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();
  std::vector<std::string> v4;
  for (const ListenEntry& e : Listening("/proc/net/tcp")) {
    if (e.port == port) v4.push_back(e.address);
  }
  EXPECT_EQ(v4, std::vector<std::string>{"0100007F"}) << "127.0.0.1 only, not 0.0.0.0";
  for (const ListenEntry& e : Listening("/proc/net/tcp6")) {
    EXPECT_NE(e.port, port) << "an IPv6 socket on the status port: " << e.address;
  }
  EXPECT_EQ(HttpGet(port, "/status").status, 200);
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

// ---- Slow clients -------------------------------------------------------------------

int ConnectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Whether the peer has closed `fd` (EOF or reset after any answer), without blocking.
bool PeerClosed(int fd, std::string* answer) {
  char buf[512];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      answer->append(buf, static_cast<size_t>(n));
      continue;
    }
    return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
  }
}

TEST_F(SecurityTest, SlowClientsDoNotStarveTheWorker) {
  config_.workers = 1;  // every client lands on the same worker
  DaemonProcess daemon(ConfigToml(config_));
  int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();
  ASSERT_EQ(HttpGet(port, "/status").status, 200) << daemon.err();

  constexpr int kIdle = 16, kTricklers = 4;
  std::vector<int> idle, tricklers;
  for (int i = 0; i < kIdle; ++i) idle.push_back(ConnectTo(port));  // send nothing
  const auto opened = Clock::now();
  for (int i = 0; i < kTricklers; ++i) tricklers.push_back(ConnectTo(port));
  for (int fd : idle) ASSERT_GE(fd, 0);
  for (int fd : tricklers) ASSERT_GE(fd, 0);
  // A byte every 250 ms, the head never finished: a slowloris.
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    const std::string head = "GET /status HTTP/1.1\r\nX-Slow: ";
    for (size_t i = 0; !stop; ++i) {
      char c = i < head.size() ? head[i] : 'a';
      for (int fd : tricklers) (void)send(fd, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });

  // Meanwhile the worker answers everyone else promptly: a latency users see. A worker that
  // waited on a slow client would keep the others until the 5 s request timeout; the budget
  // is well below that, and leaves a loaded two-core machine room to schedule.
  const auto budget = std::chrono::milliseconds(kAsan ? 3000 : 1500);
  std::chrono::milliseconds worst{0};
  int answered = 0;
  for (auto end = Clock::now() + seconds(3); Clock::now() < end; ++answered) {
    auto start = Clock::now();
    HttpAnswer a = HttpGet(port, "/status", std::chrono::milliseconds(3000));
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    worst = std::max(worst, took);
    ASSERT_EQ(a.status, 200) << a.error;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::printf("%d answers beside %d idle and %d trickling clients, slowest %lld ms\n", answered,
              kIdle, kTricklers, static_cast<long long>(worst.count()));
  EXPECT_LE(worst, budget);

  // The slow ones are cut off at the request timeout (5 s from accept), trickling or not.
  std::vector<std::string> answers(kTricklers);
  bool all_closed = Eventually(
      [&] {
        bool all = true;
        for (int i = 0; i < kTricklers; ++i) all &= PeerClosed(tricklers[i], &answers[i]);
        for (int fd : idle) {
          std::string ignored;
          all &= PeerClosed(fd, &ignored);
        }
        return all;
      },
      seconds(30));
  auto cut_after = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - opened);
  stop = true;
  trickle.join();
  EXPECT_TRUE(all_closed) << "slow clients still connected after " << cut_after.count() << " ms";
  // At the 5 s timeout, not later (a trickle that restarted the timer would keep them for
  // ever); the slack is for a loaded machine's scheduling, not for another timeout.
  EXPECT_LE(cut_after, std::chrono::milliseconds(5000 + (kAsan ? 5000 : 3000)));
  for (const std::string& a : answers) {
    EXPECT_EQ(a.rfind("HTTP/1.1 408", 0), 0u) << a;
  }
  for (int fd : idle) close(fd);
  for (int fd : tricklers) close(fd);
  EXPECT_EQ(HttpGet(port, "/status").status, 200);
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

// ---- Request and response bytes in the log ---------------------------------------------

// Each backend answers with a marker in bytes the original would have logged.
class LogBytesTest : public SecurityTest {
 protected:
  void SetUp() override {
    SecurityTest::SetUp();
    ASSERT_TRUE(garbage_.ok() && bad_line_.ok() && error_.ok());
    config_.upstreams = {{.name = "app",
                          .primary = {up_.address(), garbage_.address(), bad_line_.address(),
                                      error_.address(), long_line_.address()}}};
    config_.workers = 2;
  }

  // Runs the daemon at `level`, makes every backend fail once, sends the status listener
  // requests that carry markers, and returns the log.
  std::string LogAt(const std::string& level) {
    config_.log_level = level;
    DaemonProcess daemon(ConfigToml(config_));
    int port = daemon.StatusPort();
    EXPECT_GT(port, 0) << daemon.err();
    for (const std::string& line : {"bad status line from " + garbage_.address(),
                                    "bad status line from " + bad_line_.address(),
                                    "bad status line from " + long_line_.address(),
                                    "bad status code from " + error_.address() + ": 500"}) {
      EXPECT_TRUE(daemon.WaitForErr(line)) << line << "\n" << daemon.err();
    }
    const std::vector<std::string> requests = {
        "GET /REQ-MARK-path HTTP/1.1\r\nHost: x\r\n\r\n", "REQ-MARK-garbage \x01\x02\r\n\r\n",
        "GET /status HTTP/1.1\r\nX-Big: REQ-MARK-" + std::string(9000, 'a') + "\r\n\r\n",
        "POST /status HTTP/1.1\r\nCookie: REQ-MARK-cookie\r\n\r\n"};
    for (const std::string& req : requests) {
      int fd = ConnectTo(port);
      EXPECT_GE(fd, 0);
      (void)send(fd, req.data(), req.size(), MSG_NOSIGNAL);
      std::string answer;
      EXPECT_TRUE(Eventually([&] { return PeerClosed(fd, &answer); }, seconds(10)));
      EXPECT_EQ(answer.rfind("HTTP/1.1 4", 0), 0u) << answer;
      close(fd);
    }
    EXPECT_EQ(HttpGet(port, "/status").status, 200);
    EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
    return daemon.err();
  }

  LoopbackHttpServer garbage_{Family::kV4, "\x01\x02RESP-MARK-garbage\xff\r\n"};
  LoopbackHttpServer bad_line_{Family::kV4, "RESP-MARK-line 200 OK\r\n\r\n"};
  LoopbackHttpServer long_line_{Family::kV4, "RESP-MARK-long " + std::string(500, 'z') + "\r\n"};
  LoopbackHttpServer error_{Family::kV4,
                            "HTTP/1.1 500 RESP-MARK-reason\r\nContent-Length: 14\r\n\r\n"
                            "RESP-MARK-body"};
};

// The lines of `log` that contain `needle`.
std::vector<std::string> LinesWith(const std::string& log, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

// As the original, `bad status line from <name>: <line>` at error; the line escaped
// (\xNN outside printable ASCII) and cut at 200 bytes, so a peer can neither forge log
// lines nor flood the log. Nothing else from a response, nothing from a request.
TEST_F(LogBytesTest, OnlyTheBadStatusLineIsLoggedEscapedAndCut) {
  for (const std::string level : {"warn", "debug"}) {
    std::string log = LogAt(level);
    EXPECT_EQ(LinesWith(log, "REQ-MARK"), std::vector<std::string>{}) << "requests never";
    EXPECT_EQ(LinesWith(log, "RESP-MARK-reason"), std::vector<std::string>{});
    EXPECT_EQ(LinesWith(log, "RESP-MARK-body"), std::vector<std::string>{});
    EXPECT_EQ(LinesWith(log, "\x01"), std::vector<std::string>{});
    EXPECT_EQ(LinesWith(log, "\xff"), std::vector<std::string>{});
    for (const std::string& line : LinesWith(log, "RESP-MARK")) {
      EXPECT_NE(line.find("[error] "), std::string::npos) << line;
      EXPECT_NE(line.find("healthcheck: bad status line from "), std::string::npos) << line;
    }
    const std::string garbage = "healthcheck: bad status line from " + garbage_.address() +
                                ": \\x01\\x02RESP-MARK-garbage\\xff";
    const std::string line =
        "healthcheck: bad status line from " + bad_line_.address() + ": RESP-MARK-line 200 OK";
    const std::string cut = "healthcheck: bad status line from " + long_line_.address() +
                            ": RESP-MARK-long " + std::string(200 - 15, 'z') + "...";
    for (const std::string& want : {garbage, line, cut}) {
      std::vector<std::string> lines = LinesWith(log, want);
      ASSERT_GE(lines.size(), 1u) << level << ": no line with " << want << "\n" << log;
      // Nothing of the response follows the escaped text: only the upstream it belongs to.
      EXPECT_EQ(lines[0].substr(lines[0].find(want)), want + ", upstream: \"app\"") << lines[0];
    }
  }
}

}  // namespace
}  // namespace upcheck::testing
