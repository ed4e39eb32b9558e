#include "event_hook.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "master.h"
#include "upcheck/internal/event_format.h"

namespace upcheck::daemon {
namespace {

// How often the master looks for new events while it has a command configured.
constexpr int64_t kPollMs = 50;

// In the forked child: stdin from the pipe, a clean signal state, no inherited sockets.
[[noreturn]] void Exec(const std::string& command, int stdin_fd, const JournalEvent& event) {
  dup2(stdin_fd, STDIN_FILENO);
  close_range(3, ~0U, 0);
  sigset_t all;
  sigemptyset(&all);
  // The master is single-threaded and this is its forked child: nothing races these.
  // NOLINTBEGIN(concurrency-mt-unsafe)
  sigprocmask(SIG_SETMASK, &all, nullptr);
  signal(SIGPIPE, SIG_DFL);
  setenv("UPCHECK_EVENT_SEQ", std::to_string(event.seq).c_str(), 1);
  setenv("UPCHECK_EVENT_KIND", std::string(EventKindName(event.kind)).c_str(), 1);
  // NOLINTEND(concurrency-mt-unsafe)
  execl(command.c_str(), command.c_str(), static_cast<char*>(nullptr));
  _exit(127);
}

std::string DescribeStatus(int status) {
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {}", WTERMSIG(status));
  if (WEXITSTATUS(status) == 127) return "could not be run (exit code 127)";
  return fmt::format("exited with code {}", WEXITSTATUS(status));
}

}  // namespace

EventHook::EventHook(std::string command, int64_t timeout_ms, uint64_t first_seq)
    : command_(std::move(command)), timeout_ms_(timeout_ms), next_seq_(first_seq) {}

EventHook::~EventHook() {
  if (running_ > 0) {
    kill(running_, SIGKILL);
    waitpid(running_, nullptr, 0);
  }
}

void EventHook::Reconfigure(std::string command, int64_t timeout_ms) {
  command_ = std::move(command);
  timeout_ms_ = timeout_ms;
}

void EventHook::Poll(const Journal& journal, int64_t now_ms, const Logger& logger) {
  if (running_ > 0) {
    if (now_ms >= deadline_ms_) {
      logger.Warn(
          fmt::format("on_event command {} for event {} did not finish in {} ms; killing it",
                      command_, running_seq_, timeout_ms_));
      kill(running_, SIGKILL);
      deadline_ms_ = INT64_MAX;  // OnExit() follows
    }
    return;
  }
  const JournalBatch batch = journal.Read(next_seq_, 1);
  if (batch.missed() > 0) {
    logger.Warn(fmt::format(
        "on_event fell behind the journal: events {}..{} were dropped by the ring before "
        "their command ran (upcheck-shmctl events lists what is left)",
        batch.missed_from, batch.missed_to));
    next_seq_ = batch.missed_to + 1;
  }
  if (batch.events.empty()) return;
  const JournalEvent& event = batch.events.front();
  next_seq_ = event.seq + 1;
  if (Launch(event, logger)) deadline_ms_ = now_ms + timeout_ms_;
}

bool EventHook::Launch(const JournalEvent& event, const Logger& logger) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    logger.Error(fmt::format("on_event: pipe: {}", std::generic_category().message(errno)));
    return false;
  }
  const pid_t pid = fork();
  if (pid == 0) Exec(command_, fds[0], event);
  close(fds[0]);
  if (pid < 0) {
    logger.Error(fmt::format("on_event: fork: {}", std::generic_category().message(errno)));
    close(fds[1]);
    return false;
  }
  // A line of a few hundred bytes fits the pipe's buffer: this write never waits.
  const std::string line = EventJson(event) + "\n";
  if (write(fds[1], line.data(), line.size()) < 0 && errno != EPIPE) {
    logger.Warn(fmt::format("on_event: writing event {}: {}", event.seq,
                            std::generic_category().message(errno)));
  }
  close(fds[1]);
  running_ = pid;
  running_seq_ = event.seq;
  return true;
}

bool EventHook::OnExit(pid_t pid, int status, const Logger& logger) {
  if (pid != running_) return false;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    logger.Warn(fmt::format("on_event command {} for event {} {}", command_, running_seq_,
                            DescribeStatus(status)));
  }
  running_ = -1;
  return true;
}

int64_t EventHook::NextWakeupMs(int64_t now_ms) const {
  return running_ > 0 ? std::min(deadline_ms_, now_ms + kPollMs) : now_ms + kPollMs;
}

void EventHook::Finish(const Logger& logger) {
  while (running_ > 0) {
    int status = 0;
    const pid_t pid = waitpid(running_, &status, WNOHANG);
    if (pid == running_) {
      OnExit(pid, status, logger);
      break;
    }
    if (pid < 0) break;
    if (NowMs() >= deadline_ms_) {
      kill(running_, SIGKILL);
      waitpid(running_, &status, 0);
      logger.Warn(
          fmt::format("on_event command {} for event {} killed at exit", command_, running_seq_));
      break;
    }
    timespec ts{0, 10L * 1000000};
    nanosleep(&ts, nullptr);
  }
  running_ = -1;
}

}  // namespace upcheck::daemon
