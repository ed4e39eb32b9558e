// upcheckd's signals as nginx's, with the real binary ($UPCHECKD): SIGUSR1 reopens
// error_log after `mv` (logrotate), SIGQUIT lets balancer connections in flight finish,
// `upcheckd -s reload|stop|quit|reopen` goes through the pid file, and the master's and
// workers' process titles.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "daemon_process.h"
#include "subprocess.h"
#include "test_names.h"
#include "upcheck/internal/registry.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// /proc/PID/cmdline without the NULs that pad a title.
std::string CommandLineOf(pid_t pid) {
  std::string text = ReadAll("/proc/" + std::to_string(pid) + "/cmdline");
  while (!text.empty() && text.back() == '\0') text.pop_back();
  return text;
}

// A listening socket on 127.0.0.1:0 that the test accepts on by hand: a peer whose
// connections the test holds open as long as it likes.
class HeldPeer {
 public:
  HeldPeer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sin), len) == 0 && listen(fd_, 16) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&sin), &len) == 0) {
      port_ = ntohs(sin.sin_port);
    }
  }
  ~HeldPeer() { close(fd_); }
  HeldPeer(const HeldPeer&) = delete;
  HeldPeer& operator=(const HeldPeer&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The next connection, or -1 at the deadline.
  int Accept(milliseconds deadline = milliseconds(10000)) const {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(Slow(deadline).count())) != 1) return -1;
    return accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

int ConnectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads exactly `n` bytes within the deadline ("" on EOF, error or timeout).
std::string ReadExactly(int fd, size_t n, milliseconds deadline = milliseconds(10000)) {
  std::string got;
  while (got.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(Slow(deadline).count())) != 1) return "";
    char buf[256];
    ssize_t r = read(fd, buf, std::min(sizeof(buf), n - got.size()));
    if (r <= 0) return "";
    got.append(buf, static_cast<size_t>(r));
  }
  return got;
}

// A client connection through the balancer on `port` and the backend end of it at `peer`,
// closed by Close() or when it goes.
struct Relayed {
  Relayed(int port, const HeldPeer& peer)
      : client(ConnectTo(port)), backend(client >= 0 ? peer.Accept() : -1) {}
  ~Relayed() { Close(); }
  Relayed(const Relayed&) = delete;
  Relayed& operator=(const Relayed&) = delete;
  bool ok() const { return client >= 0 && backend >= 0; }
  void Close() {
    for (int* fd : {&backend, &client}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
  }
  int client;
  int backend;
};

class DaemonSignalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
    dir_ = MakeTempDir();
    config_.shm_name = UniqueSegmentName("sig");
    config_.workers = 2;
    config_.pid_file = dir_ + "/upcheckd.pid";
    config_.upstreams = {{.name = "app", .primary = {"127.0.0.1:1"}, .check = false}};
  }
  void TearDown() override {
    (void)Segment::Remove(config_.shm_name);
    RemoveTree(dir_);
  }
  // The upstream "app" over `peer` alone, unchecked, behind a balancer on a kernel-picked port.
  void BalanceTo(const HeldPeer& peer) {
    config_.upstreams = {{.name = "app",
                          .primary = {peer.address()},
                          .check = false,
                          .balancer_listen = "127.0.0.1:0"}};
  }
  // ConfigToml with more [daemon] keys.
  std::string Toml(const std::string& daemon_keys) const {
    std::string toml = ConfigToml(config_);
    toml.insert(toml.find("[daemon]\n") + 9, daemon_keys);
    return toml;
  }
  ProcessResult Control(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {UpcheckdPath()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = RunProcess(argv);
    EXPECT_FALSE(r.timed_out);
    return r;
  }
  bool LogHas(const std::string& path, const std::string& needle, size_t times = 1) const {
    return Eventually([&] { return Count(ReadAll(path), needle) >= times; });
  }

  std::string dir_;
  TestConfig config_;
};

TEST_F(DaemonSignalsTest, ReopenAfterMoveWritesToTheNewFile) {
  std::string log = dir_ + "/upcheckd.log";
  DaemonProcess daemon(Toml("error_log = \"" + log + "\"\n"));
  ASSERT_GT(daemon.StatusPort(), 0) << daemon.err();
  ASSERT_TRUE(Eventually([&] { return RunningWorkers(config_.shm_name).size() == 2; }));
  ASSERT_TRUE(LogHas(log, " started", 3)) << ReadAll(log);  // the master and both workers
  ASSERT_EQ(std::rename(log.c_str(), (log + ".1").c_str()), 0);

  ProcessResult r = Control({"-s", "reopen", "-c", daemon.config_path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out + r.err, "");
  ASSERT_TRUE(LogHas(log, "signal 10 (SIGUSR1) received, reopening logs")) << ReadAll(log);
  ASSERT_TRUE(LogHas(log, "reopened error_log", 2)) << ReadAll(log);
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  std::string now = ReadAll(log);
  std::string rotated = ReadAll(log + ".1");
  EXPECT_NE(now.find("worker 1 reopened error_log"), std::string::npos) << now;
  EXPECT_NE(now.find("worker 2 reopened error_log"), std::string::npos) << now;
  EXPECT_NE(now.find("exit"), std::string::npos) << now;
  EXPECT_EQ(rotated.find("reopen"), std::string::npos) << rotated;
  EXPECT_EQ(rotated.find("exiting"), std::string::npos) << rotated;
  EXPECT_NE(rotated.find("upcheckd started"), std::string::npos) << rotated;
}

TEST_F(DaemonSignalsTest, QuitLetsABalancerConnectionInFlightFinish) {
  HeldPeer peer;
  BalanceTo(peer);
  DaemonProcess daemon(ConfigToml(config_));
  int port = daemon.BalancerPort("app");
  ASSERT_GT(port, 0) << daemon.err();
  ASSERT_TRUE(Eventually([&] { return RunningWorkers(config_.shm_name).size() == 2; }));
  Relayed link(port, peer);
  ASSERT_TRUE(link.ok());
  const int client = link.client, backend = link.backend;
  ASSERT_EQ(write(client, "ping", 4), 4);
  ASSERT_EQ(ReadExactly(backend, 4), "ping");  // relayed: the connection is in flight

  daemon.Signal(SIGQUIT);
  ASSERT_TRUE(daemon.WaitForErr("signal 3 (SIGQUIT) received, shutting down gracefully"))
      << daemon.err();
  ASSERT_TRUE(Eventually([&] {
    return Count(daemon.err(), "shutting down gracefully (SIGQUIT)") == 2;
  })) << daemon.err();
  // Both workers have stopped accepting; the connection still relays both ways.
  ASSERT_EQ(write(backend, "pong", 4), 4);
  EXPECT_EQ(ReadExactly(client, 4), "pong");
  ASSERT_EQ(write(client, "more", 4), 4);
  EXPECT_EQ(ReadExactly(backend, 4), "more");
  // Only the worker without a connection may have finished.
  EXPECT_LE(Count(daemon.err(), "balancer connections finished"), 1u) << daemon.err();
  link.Close();

  EXPECT_EQ(daemon.Wait(), 0) << daemon.err();
  EXPECT_EQ(Count(daemon.err(), "(SIGQUIT, balancer connections finished)"), 2u) << daemon.err();
  EXPECT_FALSE(Segment::Open(config_.shm_name).ok());
  EXPECT_FALSE(std::ifstream(config_.pid_file).good());
}

TEST_F(DaemonSignalsTest, QuitClosesWhatIsLeftAtShutdownTimeout) {
  HeldPeer peer;
  config_.workers = 1;
  BalanceTo(peer);
  DaemonProcess daemon(Toml("shutdown_timeout = 200\n"));
  int port = daemon.BalancerPort("app");
  ASSERT_GT(port, 0) << daemon.err();
  Relayed link(port, peer);
  ASSERT_TRUE(link.ok());
  const int client = link.client;
  daemon.Signal(SIGQUIT);
  // The connection never ends by itself: the timeout ends it, and the daemon.
  EXPECT_EQ(daemon.Wait(), 0) << daemon.err();
  EXPECT_NE(daemon.err().find("(SIGQUIT, shutdown_timeout reached)"), std::string::npos)
      << daemon.err();
  EXPECT_EQ(ReadExactly(client, 1), "");  // closed
  link.Close();
  EXPECT_FALSE(Segment::Open(config_.shm_name).ok());
}

TEST_F(DaemonSignalsTest, TermDuringAQuitStopsAtOnce) {
  HeldPeer peer;
  config_.workers = 1;
  BalanceTo(peer);
  DaemonProcess daemon(Toml("shutdown_timeout = 86400000\n"));
  int port = daemon.BalancerPort("app");
  ASSERT_GT(port, 0) << daemon.err();
  Relayed link(port, peer);
  ASSERT_TRUE(link.ok());
  const int client = link.client;
  daemon.Signal(SIGQUIT);
  ASSERT_TRUE(daemon.WaitForErr("worker 1 shutting down gracefully (SIGQUIT)")) << daemon.err();
  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.Wait(), 0) << daemon.err();
  EXPECT_NE(daemon.err().find("signal 15 (SIGTERM) received, exiting"), std::string::npos)
      << daemon.err();
  EXPECT_NE(daemon.err().find("worker 1 exiting (SIGTERM)"), std::string::npos) << daemon.err();
  EXPECT_EQ(ReadExactly(client, 1), "");  // closed
  link.Close();
  EXPECT_FALSE(Segment::Open(config_.shm_name).ok());
}

// A reload stops the old workers as SIGQUIT does: a balancer connection opened before it
// keeps relaying both ways after the new workers run, and its worker exits once the client
// closes (shutdown_timeout is a day: only the close can end it).
TEST_F(DaemonSignalsTest, ReloadLetsAnOldWorkersConnectionFinish) {
  HeldPeer peer;
  BalanceTo(peer);
  DaemonProcess daemon(Toml("shutdown_timeout = 86400000\n"));
  int port = daemon.BalancerPort("app");
  ASSERT_GT(port, 0) << daemon.err();
  std::set<int32_t> old;
  ASSERT_TRUE(Eventually([&] { return (old = RunningWorkers(config_.shm_name)).size() == 2; }));
  Relayed link(port, peer);
  ASSERT_TRUE(link.ok());
  const int client = link.client, backend = link.backend;
  ASSERT_EQ(write(client, "ping", 4), 4);
  ASSERT_EQ(ReadExactly(backend, 4), "ping");

  const size_t mark = daemon.err().size();
  daemon.Signal(SIGHUP);
  ASSERT_TRUE(daemon.WaitForErr("reload done", milliseconds(10000), mark)) << daemon.err();
  std::set<int32_t> fresh;
  ASSERT_TRUE(Eventually([&] {
    fresh = RunningWorkers(config_.shm_name);
    return fresh.size() == 2 && !fresh.contains(*old.begin()) && !fresh.contains(*old.rbegin());
  })) << daemon.err();
  // Both old workers stopped accepting; the one without a connection is gone.
  ASSERT_TRUE(Eventually([&] {
    const std::string log = daemon.err().substr(mark);
    return Count(log, "shutting down gracefully (SIGQUIT)") == 2 &&
           Count(log, "(SIGQUIT, balancer connections finished)") == 1 &&
           Count(log, "exited with code 0") == 1;
  })) << daemon.err();
  ASSERT_EQ(write(backend, "pong", 4), 4);
  EXPECT_EQ(ReadExactly(client, 4), "pong");
  ASSERT_EQ(write(client, "more", 4), 4);
  EXPECT_EQ(ReadExactly(backend, 4), "more");
  EXPECT_EQ(Count(daemon.err().substr(mark), "exited with code 0"), 1u) << daemon.err();
  link.Close();

  EXPECT_TRUE(Eventually([&] {
    const std::string log = daemon.err().substr(mark);
    return Count(log, "(SIGQUIT, balancer connections finished)") == 2 &&
           Count(log, "exited with code 0") == 2;
  })) << daemon.err();
  for (int32_t pid : old) {
    EXPECT_NE(daemon.err().find("worker process " + std::to_string(pid) + " exited with code 0"),
              std::string::npos)
        << daemon.err();
  }
  EXPECT_EQ(RunningWorkers(config_.shm_name), fresh);
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

TEST_F(DaemonSignalsTest, SignalCommandsReloadStopAndQuit) {
  {
    DaemonProcess daemon(ConfigToml(config_));
    ASSERT_GT(daemon.StatusPort(), 0) << daemon.err();
    ASSERT_TRUE(Eventually([&] { return std::ifstream(config_.pid_file).good(); }));
    ProcessResult r = Control({"-s", "reload", "-c", daemon.config_path()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(daemon.WaitForErr("reload done")) << daemon.err();
    // -p instead of the configuration.
    r = Control({"-s", "stop", "-p", config_.pid_file});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(daemon.Wait(), 0) << daemon.err();
    EXPECT_NE(daemon.err().find("signal 15 (SIGTERM) received, exiting"), std::string::npos)
        << daemon.err();
  }
  {
    DaemonProcess daemon(ConfigToml(config_));
    ASSERT_GT(daemon.StatusPort(), 0) << daemon.err();
    ASSERT_TRUE(Eventually([&] { return std::ifstream(config_.pid_file).good(); }));
    ProcessResult r = Control({"-s", "quit", "-c", daemon.config_path()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(daemon.Wait(), 0) << daemon.err();
    EXPECT_NE(daemon.err().find("signal 3 (SIGQUIT) received, shutting down gracefully"),
              std::string::npos)
        << daemon.err();
    EXPECT_FALSE(Segment::Open(config_.shm_name).ok());
  }
}

TEST_F(DaemonSignalsTest, SignalCommandErrorsAreClear) {
  std::string no_pid = dir_ + "/no-pid.toml";
  TestConfig c = config_;
  c.pid_file = "";
  WriteFile(no_pid, ConfigToml(c));
  ProcessResult r = Control({"-s", "reload", "-c", no_pid});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "upcheckd: " + no_pid +
                       " sets no [daemon] pid_file: -s needs it (or -p PID_FILE) to find the "
                       "master\n");

  std::string with_pid = dir_ + "/pid.toml";
  WriteFile(with_pid, ConfigToml(config_));
  r = Control({"-s", "stop", "-c", with_pid});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "upcheckd: cannot read pid file " + config_.pid_file + ": No such file or directory\n");

  WriteFile(config_.pid_file, "999999999\n");
  r = Control({"-s", "reopen", "-c", with_pid});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "upcheckd: kill(999999999, SIGUSR1) from pid file " + config_.pid_file +
                       ": no process\n");

  r = Control({"-s", "restart", "-c", with_pid});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("restart"), std::string::npos) << r.err;

  r = Control({"-s", "stop"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "upcheckd: -s needs -c FILE or -p PID_FILE to find the master\n");

  WriteFile(dir_ + "/bad.toml", "[daemon]\nshutdown_timeout = -1\n");
  r = Control({"-c", dir_ + "/bad.toml", "--test"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind(dir_ + "/bad.toml:2:20: daemon.shutdown_timeout: ", 0), 0u) << r.err;
}

// The unit as `meson install` writes it, with the installed binary's path pointed at the
// one under test (systemd-analyze checks that each command is executable).
TEST(DaemonServiceTest, SystemdUnitVerifies) {
  const char* unit = std::getenv("UPCHECKD_UNIT");
  const char* bindir = std::getenv("UPCHECK_BINDIR");
  ASSERT_TRUE(unit != nullptr && bindir != nullptr) << "set UPCHECKD_UNIT and UPCHECK_BINDIR";
  std::string analyze = "/usr/bin/systemd-analyze";
  if (access(analyze.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << analyze;
  std::string text = ReadAll(unit);
  ASSERT_NE(text.find("ExecReload=/bin/kill -HUP $MAINPID"), std::string::npos) << text;
  ASSERT_NE(text.find("KillSignal=SIGQUIT"), std::string::npos) << text;
  std::string installed = std::string(bindir) + "/upcheckd";
  size_t replaced = 0;
  for (size_t at = text.find(installed); at != std::string::npos; at = text.find(installed, at)) {
    text.replace(at, installed.size(), UpcheckdPath());
    at += UpcheckdPath().size();
    ++replaced;
  }
  EXPECT_EQ(replaced, 3u) << text;  // ExecStartPre, ExecStart and the reload's -t
  std::string dir = MakeTempDir();
  WriteFile(dir + "/upcheckd.service", text);
  ProcessResult r = RunProcess({analyze, "verify", "--man=no", dir + "/upcheckd.service"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out + r.err, "");
  RemoveTree(dir);
}

TEST_F(DaemonSignalsTest, ProcessTitlesAreNginxs) {
  DaemonProcess daemon(ConfigToml(config_));
  ASSERT_GT(daemon.StatusPort(), 0) << daemon.err();
  ASSERT_TRUE(Eventually([&] { return RunningWorkers(config_.shm_name).size() == 2; }));
  EXPECT_EQ(CommandLineOf(daemon.pid()),
            "upcheckd: master process " + UpcheckdPath() + " -c " + daemon.config_path());
  for (int32_t pid : RunningWorkers(config_.shm_name)) {
    EXPECT_EQ(CommandLineOf(pid), "upcheckd: worker process");
  }
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

}  // namespace
}  // namespace upcheck::testing
