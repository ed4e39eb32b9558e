// DaemonProcess: the real upcheckd binary ($UPCHECKD) run as a subprocess on a temporary
// config file, for end-to-end tests. It captures stdout and stderr, finds the ports the
// master announces ("upcheckd: status listener on 127.0.0.1:PORT"), waits on log lines
// with deadlines, signals the master and waits for its exit.
//
// Also here: a blocking HTTP GET with a deadline, and a config writer. Each method is
// safe from the test's thread; the output is read by a thread of the object's own.
#ifndef UPCHECK_TESTS_INTEGRATION_DAEMON_DAEMON_PROCESS_H_
#define UPCHECK_TESTS_INTEGRATION_DAEMON_DAEMON_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "slow_tool.h"
#include "upcheck/internal/registry.h"
#include "upcheck/segment.h"

namespace upcheck::testing {

using std::chrono::milliseconds;

// $UPCHECKD, the binary under test.
std::string UpcheckdPath();

// A fresh temporary directory (removed by the caller with RemoveTree).
std::string MakeTempDir();
void RemoveTree(const std::string& dir);
void WriteFile(const std::string& path, std::string_view text);

struct TestUpstream {
  std::string name;
  std::vector<std::string> primary;
  std::vector<std::string> backup{};
  bool check = true;
  int interval_ms = 100;
  int fall = 1;
  int rise = 1;
  std::string balancer_listen{};  // "" for none
  int concurrency = 0;            // check.concurrency; 0 leaves it out (the default, 1)
  std::string slow_start{};       // "" leaves it out (off)
  int panic_threshold = 0;        // 0 leaves it out (off)
};

struct TestConfig {
  std::string shm_name;
  int workers = 2;
  bool persist = false;
  std::string log_level = "notice";
  std::string status_listen = "127.0.0.1:0";  // "" for none
  std::string pid_file{};                     // "" for none
  std::vector<TestUpstream> upstreams;
  std::string shm_size = "256k";
  std::string reload_state{};   // shm.reload_state; "" leaves it out (the default)
  std::string on_event{};       // daemon.on_event; "" for none
  int on_event_timeout_ms = 0;  // daemon.on_event_timeout; 0 leaves it out
  std::string fleet_toml{};     // a [fleet] table, written as given; "" for none
};

std::string ConfigToml(const TestConfig& config);

struct HttpAnswer {
  bool ok = false;  // a complete answer was read
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string error;
};

// GET http://127.0.0.1:port/path (Connection: close), within the deadline.
HttpAnswer HttpGet(int port, const std::string& path, milliseconds deadline = milliseconds(3000));

// One "GET <path> HTTP/1.0" through a balancer on 127.0.0.1:port: the body of what came
// back ("" when the balancer closed the connection without a byte), within 5 s (stretched
// under valgrind).
std::string ThroughBalancer(int port, const std::string& path = "/");

// The pids of the workers the segment's worker table lists as running (none when the
// segment or its registry cannot be read).
std::set<int32_t> RunningWorkers(const std::string& shm);

class DaemonProcess {
 public:
  // Writes `toml` to a temp file and starts `upcheckd -c FILE`.
  explicit DaemonProcess(const std::string& toml);
  ~DaemonProcess();  // SIGKILL if still running; removes the temp dir
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& dir() const { return dir_; }
  void Rewrite(const std::string& toml);  // for a reload
  void Signal(int signum);

  // Whether stderr has contained `needle` (counted from `from` bytes on) within the deadline.
  bool WaitForErr(std::string_view needle, milliseconds deadline = milliseconds(10000),
                  size_t from = 0);
  std::string err() const;
  std::string out() const;
  // The port of "upcheckd: status listener on 127.0.0.1:PORT" (waits for it); 0 if none.
  int StatusPort(milliseconds deadline = milliseconds(10000));
  int BalancerPort(const std::string& upstream, milliseconds deadline = milliseconds(10000));

  // Waits for the exit and returns its status (128 + signal if killed), -1 at the deadline.
  // Then reads the output to its end (within the deadline again), so err() holds it all.
  int Wait(milliseconds deadline = milliseconds(20000));
  // SIGTERM, then Wait().
  int Stop(milliseconds deadline = milliseconds(20000));

 private:
  void ReadLoop(int out_fd, int err_fd);
  int PortAfter(const std::string& prefix, milliseconds deadline);

  std::string dir_;
  std::string config_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string out_, err_;  // GUARDED_BY(mutex_)
  bool eof_ = false;       // GUARDED_BY(mutex_): both pipes read to their end
};

// Time in the protocol's own unit: the workers' cycle counters (WorkerRow::cycles, the
// cycles a worker has ended, over all its upstreams) in a daemon's registry. A test that
// bounds how long a change takes to show counts cycles rather than milliseconds: a loaded
// machine stretches cycles, not their number. Reads are lock-free (a worker stopped inside
// the dict lock blocks none of them); the segment stays mapped from Attach() on.
class WorkerCycles {
 public:
  // The daemon's segment `shm`, once the master has published it; false if absent.
  bool Attach(const std::string& shm);
  // pid -> cycles of each running worker, now.
  std::map<int32_t, uint64_t> Now() const;
  // The fewest cycles that any worker of `base` still running has ended since `base` was
  // read (0 when none of them runs any more).
  uint64_t FewestSince(const std::map<int32_t, uint64_t>& base) const;

 private:
  std::unique_ptr<Segment> segment_;
  std::optional<Registry> registry_;
};

// Until the dict of the daemon's segment `shm` holds `down` for each key (true: the `d:`
// key is set; false: it is gone) and every running worker has ended a cycle since: then
// every worker's view has it (each syncs to the published version before it picks).
bool PublishedDown(const std::string& shm, const std::vector<std::string>& keys, bool down);

// Polls `predicate` every 20 ms until it holds or the deadline (stretched under valgrind:
// slow_tool.h) passes.
template <typename F>
bool Eventually(F predicate, milliseconds deadline = milliseconds(10000)) {
  auto end = std::chrono::steady_clock::now() + Slow(deadline);
  for (;;) {
    if (predicate()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_INTEGRATION_DAEMON_DAEMON_PROCESS_H_
