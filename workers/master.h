// Master: upcheckd's master process. It owns the configuration's segment, pid file and
// listening sockets, forks the workers, reaps and respawns them, reloads on SIGHUP, stops
// them on SIGTERM/SIGINT (at once) or SIGQUIT (gracefully: balancer connections in flight
// finish, for up to [daemon] shutdown_timeout) and reopens error_log on SIGUSR1, its own
// and then the workers', as nginx does.
//
// One per process, on the main thread. The master's loop waits for signals with
// sigtimedwait() (SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 stay blocked in the
// master), so there
// is no event library state to carry across fork(): each worker starts from a clean slate
// and builds its own libuv loop. Lines for the operator go to the configured error log;
// the listening addresses also go to stderr as "upcheckd: status listener on HOST:PORT"
// whatever the log level, so that scripts and tests can find ports chosen by the kernel.
#ifndef UPCHECK_WORKERS_MASTER_H_
#define UPCHECK_WORKERS_MASTER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "daemon_segment.h"
#include "event_hook.h"
#include "listeners.h"
#include "pid_file.h"
#include "upcheck/config.h"
#include "upcheck/log.h"

namespace upcheck::daemon {

class Master {
 public:
  struct Options {
    std::string config_path;                // reread on SIGHUP; empty: SIGHUP is ignored
    std::function<void(Master&)> on_ready;  // after the first workers were forked
    std::function<void(Master&)> on_tick;   // every tick_ms while running (the demo)
    int64_t tick_ms = 2000;
    std::vector<pid_t> helpers;  // other children to stop with the daemon (demo backends)
  };

  Master(Config config, Options options);
  ~Master();
  Master(const Master&) = delete;
  Master& operator=(const Master&) = delete;

  // Starts, runs until SIGTERM/SIGINT/SIGQUIT and stops. Returns the exit status: 0 after a clean
  // stop, 1 after a start-up failure (printed as one "upcheckd: ..." line on stderr).
  int Run();

  // The running configuration's segment and sockets. REQUIRES: from a hook.
  Segment& segment();
  const Registry& registry() const;
  const Listeners& listeners() const;

 private:
  // One configuration with its segment, sockets and workers. A reload makes a new one;
  // the old one retires when its last worker is reaped.
  struct Generation {
    Config config;
    DaemonSegment shm;
    Listeners listeners;
    bool retiring = false;
  };
  struct Child {
    Generation* generation = nullptr;
    int number = 0;
    int64_t started_ms = 0;
  };
  struct Respawn {
    int quick_deaths = 0;  // deaths within 2 s of the start, in a row
    int64_t due_ms = -1;   // when to fork it again; -1: not pending
  };

  Status Start();
  void Loop();
  void Finish();
  int64_t NextWakeupMs(int64_t now) const;
  void OnTimers(int64_t now);

  void Spawn(Generation& generation, int number);
  void Reap();
  void ReleaseSlot(Generation& generation, pid_t pid);
  void ScheduleRespawn(const Child& child, int64_t now);
  void DropRetired();
  void BeginStop(int signum);
  void ReopenLogs();
  void SignalChildren(const Generation* generation, int signum);

  // Appends to the running configuration's journal.
  void Record(EventKind kind, std::string message);
  // Starts, changes or stops the on_event runner for the running configuration.
  void ConfigureHook();

  void Reload();
  Result<std::unique_ptr<Generation>> BuildNext(Config next, std::vector<std::string>* opened);
  void Announce(const std::vector<std::string>& opened);

  Config initial_;
  Options options_;
  Logger logger_;
  pid_t pid_ = 0;
  std::unique_ptr<PidFile> pid_file_;
  std::unique_ptr<Generation> current_;
  std::vector<std::unique_ptr<Generation>> retiring_;
  std::map<pid_t, Child> children_;
  std::set<pid_t> helpers_;
  std::vector<Respawn> respawn_;     // per worker number - 1, of current_
  std::unique_ptr<EventHook> hook_;  // [daemon] on_event; null without
  int watch_[2] = {-1, -1};          // workers see EOF on [0] when the master is gone
  bool stopping_ = false;
  bool graceful_ = false;    // stopping on SIGQUIT: workers drain their balancers
  int64_t kill_at_ms_ = -1;  // stopping: SIGKILL what is left at this time
  int64_t next_tick_ms_ = -1;
};

// Milliseconds on CLOCK_MONOTONIC.
int64_t NowMs();

}  // namespace upcheck::daemon

#endif  // UPCHECK_WORKERS_MASTER_H_
