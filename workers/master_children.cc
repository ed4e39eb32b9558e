// Master: forking, reaping and respawning workers.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include "master.h"
#include "worker.h"

namespace upcheck::daemon {
namespace {

constexpr int64_t kQuickDeathMs = 2000;
constexpr int64_t kMaxBackoffMs = 30000;

std::string DescribeExit(pid_t pid, int status) {
  if (WIFSIGNALED(status)) {
    return fmt::format("worker process {} exited on signal {}{}", pid, WTERMSIG(status),
                       WCOREDUMP(status) ? " (core dumped)" : "");
  }
  return fmt::format("worker process {} exited with code {}", pid, WEXITSTATUS(status));
}

bool CleanExit(int status) {
  return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
         (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
}

}  // namespace

void Master::Spawn(Generation& generation, int number) {
  pid_t pid = fork();
  if (pid < 0) {
    logger_.Error(fmt::format("fork() failed while spawning worker {}: {}", number,
                              std::generic_category().message(errno)));
    respawn_[static_cast<size_t>(number) - 1].due_ms = NowMs() + 1000;
    return;
  }
  if (pid == 0) {
    close(watch_[1]);  // the write end stays with the master alone
    // Sockets only a retiring configuration still uses must not stay open in a new worker.
    for (const auto& old : retiring_) {
      for (int fd : DescriptorsNotIn(old->listeners, generation.listeners)) close(fd);
    }
    RunWorkerProcess({.number = number,
                      .master_pid = pid_,
                      .config = &generation.config,
                      .segment = generation.shm.segment.get(),
                      .listeners = &generation.listeners,
                      .watch_fd = watch_[0]});
  }
  children_[pid] = Child{&generation, number, NowMs()};
  logger_.Notice(fmt::format("start worker process {}", pid));
  Record(EventKind::kWorkerSpawn, fmt::format("worker process {} started", pid));
}

void Master::Reap() {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (helpers_.erase(pid) > 0) {
      if (!stopping_) logger_.Error(fmt::format("helper process {} exited", pid));
      continue;
    }
    if (hook_ && hook_->OnExit(pid, status, logger_)) continue;
    auto it = children_.find(pid);
    if (it == children_.end()) continue;
    Child child = it->second;
    children_.erase(it);
    ReleaseSlot(*child.generation, pid);
    bool expected = stopping_ || child.generation->retiring;
    std::string line = DescribeExit(pid, status);
    if (expected && CleanExit(status)) {
      logger_.Notice(line);
    } else {
      logger_.Error(line);
    }
    Record(EventKind::kWorkerExit, std::move(line));
    if (child.generation->retiring) {
      DropRetired();
    } else if (!stopping_) {
      ScheduleRespawn(child, NowMs());
    }
  }
}

// After waitpid: the dead worker's row goes back to the table. Its locks need nothing:
// the dict's lock is a robust mutex, so a holder's death is noticed and repaired by the
// kernel and the next process that takes it, and a checker's probe lock key expires
// with its TTL (interval - 1 ms), as in the original.
void Master::ReleaseSlot(Generation& generation, pid_t pid) {
  for (const WorkerRow& row : generation.shm.registry.Workers()) {
    if (row.pid == pid) generation.shm.registry.ReleaseWorkerSlot(row.slot);
  }
}

// Respawns at once, unless the worker keeps dying within 2 s of its start: then after
// 1, 2, 4 ... 30 s.
void Master::ScheduleRespawn(const Child& child, int64_t now) {
  Respawn& r = respawn_[static_cast<size_t>(child.number) - 1];
  r.quick_deaths = now - child.started_ms < kQuickDeathMs ? r.quick_deaths + 1 : 0;
  int64_t delay = 0;
  if (r.quick_deaths >= 2) {
    delay = std::min(kMaxBackoffMs, int64_t{1000} << std::min(r.quick_deaths - 2, 5));
    logger_.Warn(
        fmt::format("worker {} exited {} times in a row within 2 s of its start; "
                    "respawning it in {} s",
                    child.number, r.quick_deaths, delay / 1000));
  }
  r.due_ms = now + delay;
}

// Frees retiring configurations whose workers are all gone.
void Master::DropRetired() {
  std::erase_if(retiring_, [&](const std::unique_ptr<Generation>& g) {
    bool busy = std::any_of(children_.begin(), children_.end(),
                            [&](const auto& c) { return c.second.generation == g.get(); });
    if (busy) return false;
    const ShmConfig& shm = g->config.shm;
    if (shm.name != current_->config.shm.name && !shm.persist) (void)Segment::Remove(shm.name);
    return true;
  });
}

void Master::SignalChildren(const Generation* generation, int signum) {
  for (const auto& [pid, child] : children_) {
    if (generation == nullptr || child.generation == generation) kill(pid, signum);
  }
  if (generation == nullptr) {
    for (pid_t pid : helpers_) kill(pid, signum);
  }
}

}  // namespace upcheck::daemon
