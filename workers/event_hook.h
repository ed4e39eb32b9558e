// EventHook: the master's `[daemon] on_event` runner. For each journal event, in order, it
// forks the command with the event's JSON (EventJson, one line) on stdin and
// UPCHECK_EVENT_SEQ / UPCHECK_EVENT_KIND in its environment, one command at a time, each
// killed after the timeout. The workers never wait for it: they only append to the
// journal, which the hook reads like any other reader, so a slow or failing command costs
// nothing but its own lateness (and when it falls a whole ring behind, the gap is logged).
//
// Master only, from its loop: Poll() on every wakeup, OnExit() for every reaped pid.
#ifndef UPCHECK_WORKERS_EVENT_HOOK_H_
#define UPCHECK_WORKERS_EVENT_HOOK_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "upcheck/internal/journal.h"
#include "upcheck/log.h"

namespace upcheck::daemon {

class EventHook {
 public:
  // Events from `first_seq` on are delivered (the journal's next number at start-up: what
  // happened before this master is not replayed).
  EventHook(std::string command, int64_t timeout_ms, uint64_t first_seq);
  ~EventHook();
  EventHook(const EventHook&) = delete;
  EventHook& operator=(const EventHook&) = delete;

  // A reload's new settings; the command running goes on under the old ones.
  void Reconfigure(std::string command, int64_t timeout_ms);
  // Kills an overdue command; when none runs, starts the next event's.
  void Poll(const Journal& journal, int64_t now_ms, const Logger& logger);
  // Whether `pid` was the running command (then it is accounted for and logged).
  bool OnExit(pid_t pid, int status, const Logger& logger);
  // When Poll() has work: soon while events may wait or a command runs.
  int64_t NextWakeupMs(int64_t now_ms) const;
  // At stop: lets the running command finish within its timeout, then kills it.
  void Finish(const Logger& logger);

 private:
  bool Launch(const JournalEvent& event, const Logger& logger);

  std::string command_;
  int64_t timeout_ms_;
  uint64_t next_seq_;
  pid_t running_ = -1;
  uint64_t running_seq_ = 0;
  int64_t deadline_ms_ = 0;
};

}  // namespace upcheck::daemon

#endif  // UPCHECK_WORKERS_EVENT_HOOK_H_
