// WorkerFleet: several "workers" sharing one real segment, each with its own libuv loop,
// Upstreams view and checkers, as upcheckd's workers run. Each worker reports what happens
// (cycle starts and ends with its view, log lines) as lines on one pipe; the test waits on
// those events with deadlines and may stop, continue or kill workers.
//
// A worker is this test binary run again with its part given on the command line, not a
// bare fork of the threaded test process (self_exec.h says why). The binary's main() must
// call RunChildRoleIfAsked() first (link test_self_exec_main_dep).
#ifndef UPCHECK_TESTS_INTEGRATION_WORKER_FLEET_H_
#define UPCHECK_TESTS_INTEGRATION_WORKER_FLEET_H_

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "upcheck/check_options.h"
#include "upcheck/segment.h"
#include "upcheck/upstreams.h"

namespace upcheck::testing {

struct FleetEvent {
  int worker = 0;
  int64_t ms = 0;        // MonotonicMs() in the worker
  std::string kind;      // "start" (cycle start), "end" (cycle end), "log"
  bool probing = false;  // start: this worker holds the lock
  double version = 0;    // end: the checker's version
  std::string view;      // start/end: one letter per peer, primary then backup: U or D
  std::string text;      // log: "<level> <message>"
};

struct FleetUpstream {
  std::string name;
  std::vector<PeerConfig> primary, backup;
};

class WorkerFleet {
 public:
  WorkerFleet(std::vector<FleetUpstream> upstreams, CheckOptions options);
  ~WorkerFleet();  // kills every worker, removes the segment

  SharedDict& dict() { return segment_->dict(); }
  const std::string& shm_name() const { return shm_name_; }

  // Starts one more worker (index = workers started so far). Returns its pid.
  pid_t StartWorker();
  pid_t pid(int worker) const { return pids_[worker]; }
  void Kill(int worker, int signal);

  // Waits until `predicate` holds for the events so far, or the deadline (stretched under
  // valgrind: Slow() in slow_tool.h) passes.
  bool WaitFor(const std::function<bool(const std::vector<FleetEvent>&)>& predicate,
               std::chrono::milliseconds deadline = std::chrono::seconds(15));
  std::vector<FleetEvent> events() const;

 private:
  void ReadLoop();

  std::vector<FleetUpstream> upstreams_;
  CheckOptions options_;
  std::string shm_name_;
  std::unique_ptr<Segment> segment_;
  std::vector<pid_t> pids_;
  int pipe_[2] = {-1, -1};
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<FleetEvent> events_;  // GUARDED_BY(mutex_)
};

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_INTEGRATION_WORKER_FLEET_H_
