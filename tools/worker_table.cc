#include "worker_table.h"

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <cerrno>

namespace upcheck::cli {

std::string_view LivenessName(Liveness liveness) {
  switch (liveness) {
    case Liveness::kAlive:
      return "alive";
    case Liveness::kDead:
      return "dead";
    case Liveness::kGone:
      return "gone";
  }
  return "unknown";
}

bool ProcessAlive(int32_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

Liveness LivenessOf(const WorkerRow& row) {
  if (ProcessAlive(row.pid)) return Liveness::kAlive;
  return row.state == WorkerState::kExiting ? Liveness::kGone : Liveness::kDead;
}

size_t CountAlive(const std::vector<WorkerRow>& rows) {
  return static_cast<size_t>(std::count_if(rows.begin(), rows.end(), [](const WorkerRow& r) {
    return LivenessOf(r) == Liveness::kAlive;
  }));
}

bool AnyLiveChecker(const std::vector<WorkerRow>& rows) {
  return std::any_of(rows.begin(), rows.end(), [](const WorkerRow& r) {
    return r.state == WorkerState::kRunning && r.checkers > 0 && ProcessAlive(r.pid);
  });
}

int64_t UnixNowMs() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace upcheck::cli
