// What the operator tools say about the daemon's worker table (Registry::Workers()): whether
// each worker's process still exists, and which workers count as running checkers.
//
// Liveness is asked of the kernel with kill(pid, 0), from any process: the tools are not the
// master's children and cannot waitpid(). EPERM means the process exists (another user's).
// A recycled pid reads as alive; the master releases a dead worker's slot soon after
// waitpid(), which keeps that window short.
#ifndef UPCHECK_TOOLS_WORKER_TABLE_H_
#define UPCHECK_TOOLS_WORKER_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "upcheck/internal/registry.h"

namespace upcheck::cli {

enum class Liveness : uint8_t {
  kAlive,  // the process exists
  kDead,   // starting or running, yet no such process: it died and its slot was not released
  kGone,   // exiting and no such process: an orderly exit the master has not reaped yet
};
std::string_view LivenessName(Liveness liveness);

// kill(pid, 0) succeeds or fails with EPERM. False for pid <= 0.
bool ProcessAlive(int32_t pid);
Liveness LivenessOf(const WorkerRow& row);

// Rows whose process exists.
size_t CountAlive(const std::vector<WorkerRow>& rows);

// Whether any worker runs checkers now: state running, checkers > 0, process alive. This is
// what upcheck-status takes for "the upstreams with a check table have checkers".
bool AnyLiveChecker(const std::vector<WorkerRow>& rows);

// Unix time in ms, from CLOCK_REALTIME (the clock the registry's timestamps use).
int64_t UnixNowMs();

}  // namespace upcheck::cli

#endif  // UPCHECK_TOOLS_WORKER_TABLE_H_
