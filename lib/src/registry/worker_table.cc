// Registry's worker table: one slot per worker process, claimed by the master at fork and
// released after waitpid; the worker writes its state and its cycles' times and versions.
#include <signal.h>

#include <bit>
#include <cerrno>
#include <string>
#include <vector>

#include "registry/registry_access.h"
#include "registry/registry_layout.h"
#include "upcheck/internal/registry.h"
#include "util/clock.h"

namespace upcheck {

using shm::Slot;
using shm::Version;
using shm::WorkerSlotShm;

std::string_view WorkerStateName(WorkerState state) {
  switch (state) {
    case WorkerState::kFree:
      return "free";
    case WorkerState::kStarting:
      return "starting";
    case WorkerState::kRunning:
      return "running";
    case WorkerState::kExiting:
      return "exiting";
  }
  return "unknown";
}

uint32_t Registry::max_workers() const { return h_->max_workers; }

Result<uint32_t> Registry::ClaimWorkerSlot(int32_t pid) {
  for (uint32_t s = 0; s < h_->max_workers; ++s) {
    WorkerSlotShm& w = Slot(h_, s);
    uint32_t expected = static_cast<uint32_t>(WorkerState::kFree);
    if (!w.state.compare_exchange_strong(expected, static_cast<uint32_t>(WorkerState::kStarting))) {
      continue;
    }
    w.pid.store(pid);
    w.checkers.store(0);
    w.started_ms.store(UnixMs());
    w.cycle_start_ms.store(0);
    w.cycle_end_ms.store(0);
    w.cycles.store(0);
    for (size_t u = 0; u < h_->upstream_count; ++u) Version(h_, s, u).store(0);
    return s;
  }
  return Result<uint32_t>::Error("the worker table is full (" + std::to_string(h_->max_workers) +
                                 " slots)");
}

void Registry::SetWorkerState(uint32_t slot, WorkerState state) {
  if (slot < h_->max_workers) Slot(h_, slot).state.store(static_cast<uint32_t>(state));
}

void Registry::SetWorkerCheckers(uint32_t slot, uint32_t checkers) {
  if (slot < h_->max_workers) Slot(h_, slot).checkers.store(checkers);
}

void Registry::RecordCycle(uint32_t slot, const CycleEvent& e) {
  std::optional<size_t> u = FindUpstream(e.upstream);
  if (slot >= h_->max_workers || !u) return;
  WorkerSlotShm& w = Slot(h_, slot);
  if (e.end) {
    w.cycle_end_ms.store(UnixMs(), std::memory_order_relaxed);
    w.cycles.fetch_add(1, std::memory_order_relaxed);
    Version(h_, slot, *u).store(std::bit_cast<uint64_t>(e.version), std::memory_order_relaxed);
  } else {
    w.cycle_start_ms.store(UnixMs(), std::memory_order_relaxed);
  }
}

void Registry::ReleaseWorkerSlot(uint32_t slot) {
  if (slot >= h_->max_workers) return;
  WorkerSlotShm& w = Slot(h_, slot);
  w.pid.store(0);
  w.state.store(static_cast<uint32_t>(WorkerState::kFree));
}

uint32_t Registry::ReclaimDeadWorkerSlots() {
  uint32_t freed = 0;
  for (uint32_t s = 0; s < h_->max_workers; ++s) {
    WorkerSlotShm& w = Slot(h_, s);
    uint32_t state = w.state.load();
    int32_t pid = w.pid.load();
    if (state == static_cast<uint32_t>(WorkerState::kFree) || pid <= 0) continue;
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;
    // Only if nobody re-claimed the slot since we looked at it.
    if (w.pid.compare_exchange_strong(pid, 0)) {
      w.state.store(static_cast<uint32_t>(WorkerState::kFree));
      ++freed;
      JournalEvent e;
      e.kind = EventKind::kWorkerExit;
      e.message = "worker process " + std::to_string(pid) + " is gone";
      AppendEvent(e);
    }
  }
  return freed;
}

std::vector<WorkerRow> Registry::Workers() const {
  std::vector<WorkerRow> rows;
  for (uint32_t s = 0; s < h_->max_workers; ++s) {
    WorkerSlotShm& w = Slot(h_, s);
    auto state = static_cast<WorkerState>(w.state.load());
    if (state == WorkerState::kFree) continue;
    WorkerRow r;
    r.slot = s;
    r.pid = w.pid.load();
    r.state = state;
    r.started_ms = w.started_ms.load();
    r.checkers = w.checkers.load();
    r.last_cycle_start_ms = w.cycle_start_ms.load();
    r.last_cycle_end_ms = w.cycle_end_ms.load();
    r.cycles = w.cycles.load();
    for (size_t u = 0; u < h_->upstream_count; ++u) {
      r.versions.push_back(std::bit_cast<double>(Version(h_, s, u).load()));
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace upcheck
