// Master: start-up, the signal loop and the clean stop. Children are in
// master_children.cc, the reload in master_reload.cc.
#include "master.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <system_error>

#include <fmt/format.h>

#include "log_setup.h"
#include "process_title.h"

namespace upcheck::daemon {
namespace {

sigset_t MasterSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1}) sigaddset(&set, s);
  return set;
}

}  // namespace

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

Master::Master(Config config, Options options)
    : initial_(std::move(config)),
      options_(std::move(options)),
      logger_(Logger::Stderr(LogLevel::kWarn)),
      helpers_(options_.helpers.begin(), options_.helpers.end()) {}

Master::~Master() {
  for (int fd : watch_) {
    if (fd >= 0) close(fd);
  }
}

Segment& Master::segment() { return *current_->shm.segment; }
const Registry& Master::registry() const { return current_->shm.registry; }
const Listeners& Master::listeners() const { return current_->listeners; }

int Master::Run() {
  pid_ = getpid();
  sigset_t set = MasterSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);  // inherited by the workers: a closed peer is an error value
  SetProcessTitle("master process " + OriginalCommandLine());
  if (Status st = Start(); !st) {
    std::fprintf(stderr, "upcheckd: %s\n", st.message().c_str());
    return 1;
  }
  if (options_.on_ready) options_.on_ready(*this);
  Loop();
  Finish();
  return 0;
}

Status Master::Start() {
  if (pipe2(watch_, O_CLOEXEC) != 0) {
    return Status::Error(fmt::format("pipe: {}", std::generic_category().message(errno)));
  }
  Result<Logger> logger = MakeLogger(initial_.daemon);
  if (!logger.ok()) return logger.status();
  logger_ = std::move(*logger);
  if (initial_.daemon.pid_file) {
    Result<std::unique_ptr<PidFile>> pid_file = PidFile::Create(*initial_.daemon.pid_file);
    if (!pid_file.ok()) return pid_file.status();
    pid_file_ = std::move(*pid_file);
  }
  Result<DaemonSegment> shm = SetUpSegment(initial_, logger_);
  if (!shm.ok()) return shm.status();
  std::vector<std::string> opened;
  Result<Listeners> listeners = OpenListeners(initial_, nullptr, &opened);
  if (!listeners.ok()) {
    if (!shm->reattached) (void)Segment::Remove(initial_.shm.name);
    return listeners.status();
  }
  Announce(opened);
  int workers = initial_.daemon.workers;
  current_ = std::make_unique<Generation>(
      Generation{std::move(initial_), std::move(*shm), std::move(*listeners), false});
  ConfigureHook();
  respawn_.assign(static_cast<size_t>(workers), Respawn{});
  for (int n = 1; n <= workers; ++n) Spawn(*current_, n);
  logger_.Notice(fmt::format("upcheckd started: master pid {}, {} workers", pid_, workers));
  next_tick_ms_ = options_.on_tick ? NowMs() + options_.tick_ms : -1;
  return Status::Ok();
}

void Master::Announce(const std::vector<std::string>& opened) {
  for (const std::string& line : opened) {
    std::fprintf(stderr, "upcheckd: %s\n", line.c_str());
    logger_.Notice(line);
  }
  std::fflush(stderr);
}

void Master::Loop() {
  const sigset_t set = MasterSignals();
  while (!(stopping_ && children_.empty() && helpers_.empty())) {
    int64_t now = NowMs();
    int64_t wait_ms = std::clamp<int64_t>(NextWakeupMs(now) - now, 0, 1000);
    timespec timeout{static_cast<time_t>(wait_ms / 1000),
                     static_cast<long>(wait_ms % 1000) * 1000000};
    siginfo_t info{};
    int signum = sigtimedwait(&set, &info, &timeout);
    if (signum == SIGTERM || signum == SIGINT || signum == SIGQUIT) BeginStop(signum);
    if (signum == SIGHUP && !stopping_) Reload();
    if (signum == SIGUSR1) ReopenLogs();
    Reap();
    OnTimers(NowMs());
  }
}

int64_t Master::NextWakeupMs(int64_t now) const {
  int64_t next = now + 1000;
  for (const Respawn& r : respawn_) {
    if (r.due_ms >= 0) next = std::min(next, r.due_ms);
  }
  if (kill_at_ms_ >= 0) next = std::min(next, kill_at_ms_);
  if (next_tick_ms_ >= 0) next = std::min(next, next_tick_ms_);
  if (hook_ && !stopping_) next = std::min(next, hook_->NextWakeupMs(now));
  return next;
}

void Master::OnTimers(int64_t now) {
  if (stopping_) {
    if (kill_at_ms_ >= 0 && now >= kill_at_ms_) {
      logger_.Warn("workers did not exit in time; killing them");
      SignalChildren(nullptr, SIGKILL);
      kill_at_ms_ = -1;
    }
    return;
  }
  for (size_t i = 0; i < respawn_.size(); ++i) {
    if (respawn_[i].due_ms >= 0 && now >= respawn_[i].due_ms) {
      respawn_[i].due_ms = -1;
      Spawn(*current_, static_cast<int>(i) + 1);
    }
  }
  if (next_tick_ms_ >= 0 && now >= next_tick_ms_) {
    next_tick_ms_ = now + options_.tick_ms;
    options_.on_tick(*this);
  }
  if (hook_ && current_->shm.registry.journal() != nullptr) {
    hook_->Poll(*current_->shm.registry.journal(), now, logger_);
  }
}

void Master::Record(EventKind kind, std::string message) {
  Journal* journal = current_ ? current_->shm.registry.journal() : nullptr;
  if (journal == nullptr) return;
  JournalEvent e;
  e.kind = kind;
  e.message = std::move(message);
  journal->Append(e);
}

void Master::ConfigureHook() {
  const DaemonConfig& daemon = current_->config.daemon;
  const Journal* journal = current_->shm.registry.journal();
  if (!daemon.on_event || journal == nullptr) {
    if (hook_) hook_->Finish(logger_);
    hook_.reset();
  } else if (hook_) {
    hook_->Reconfigure(*daemon.on_event, daemon.on_event_timeout_ms);
  } else {
    hook_ = std::make_unique<EventHook>(*daemon.on_event, daemon.on_event_timeout_ms,
                                        journal->next_seq());
  }
}

// SIGTERM/SIGINT stop the workers at once; SIGQUIT lets them drain for shutdown_timeout
// (they enforce it themselves), and a later SIGTERM/SIGINT cuts that short.
void Master::BeginStop(int signum) {
  bool graceful = signum == SIGQUIT;
  if (stopping_ && (graceful || !graceful_)) return;
  logger_.Notice(fmt::format("signal {} (SIG{}) received, {}", signum, sigabbrev_np(signum),
                             graceful ? "shutting down gracefully" : "exiting"));
  stopping_ = true;
  graceful_ = graceful;
  for (Respawn& r : respawn_) r.due_ms = -1;
  for (const auto& [pid, child] : children_) kill(pid, graceful ? SIGQUIT : SIGTERM);
  for (pid_t pid : helpers_) kill(pid, SIGTERM);
  int64_t drain_ms = graceful ? current_->config.daemon.shutdown_timeout_ms : 0;
  kill_at_ms_ = NowMs() + drain_ms + 10000;
}

// As nginx: the master reopens its own log first, then tells every worker to.
void Master::ReopenLogs() {
  if (Status st = logger_.Reopen(); !st) {
    logger_.Error(fmt::format("reopening error_log: {}", st.message()));
  }
  logger_.Notice("signal 10 (SIGUSR1) received, reopening logs");
  for (const auto& [pid, child] : children_) kill(pid, SIGUSR1);
}

void Master::Finish() {
  if (hook_) hook_->Finish(logger_);
  if (!current_->config.shm.persist) (void)Segment::Remove(current_->config.shm.name);
  pid_file_.reset();
  logger_.Notice("exit");
}

}  // namespace upcheck::daemon
