#include "worker.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "log_setup.h"
#include "process_title.h"
#include "upcheck/checker.h"
#include "upcheck/internal/admin_sync.h"
#include "upcheck/internal/checker_internals.h"
#include "upcheck/internal/dict_test_hooks.h"
#include "upcheck/internal/registry.h"
#include "upcheck/log.h"
#include "upcheck/shared_dict.h"
#include "upcheck/upstreams.h"
#include "worker_net.h"

namespace upcheck::daemon {
namespace {

// The master opened the same log a moment ago, so this fails only if the file just went
// away; stderr is then the best there is.
Logger WorkerLogger(const DaemonConfig& daemon) {
  Result<Logger> logger = MakeLogger(daemon);
  return logger.ok() ? std::move(*logger) : Logger::Stderr(LogLevel::kWarn);
}

// UPCHECK_TEST_STOP_AT=<point>[:<nth>], for fault tests only: worker 1 raises SIGSTOP
// the nth time (default 1) it reaches <point>, a CheckerInternals::test_hook point ("probing",
// "after_d_write", "before_publish") or "dict_lock" (inside the dict lock, in the middle
// of a mutation), so that a test can SIGKILL it exactly there. A respawned worker 1 stops
// again at its own nth time.
struct StopAt {
  std::string point;
  long countdown = 0;
};
StopAt g_stop_at;

void StopHere() {
  if (--g_stop_at.countdown == 0) raise(SIGSTOP);
}

void StopInsideDictLock() { StopHere(); }

std::optional<StopAt> TestStopAt(int worker_number) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): nothing in the daemon sets the environment.
  const char* spec = std::getenv("UPCHECK_TEST_STOP_AT");
  if (spec == nullptr || *spec == '\0' || worker_number != 1) return std::nullopt;
  std::string s(spec);
  size_t colon = s.find(':');
  StopAt at{s.substr(0, colon), 1};
  if (colon != std::string::npos) at.countdown = std::max(1L, std::atol(s.c_str() + colon + 1));
  return at;
}

// One worker: everything lives on this object, on the worker's own stack, for as long as
// its loop runs.
class Worker {
 public:
  explicit Worker(const WorkerLaunch& launch)
      : launch_(launch), logger_(WorkerLogger(launch.config->daemon)) {}

  int Run();

 private:
  Status SetUp();
  Status SpawnCheckers();
  void WatchSignalsAndMaster();
  void Shutdown(std::string_view why);
  void Quit();
  void ReopenLog();
  void SyncCheckers();
  void ReportPassive(std::string_view upstream, const PeerInfo& peer, PassiveResult result);

  static void OnSignal(uv_signal_t* handle, int signum);
  static void OnQuitTimeout(uv_timer_t* timer);
  static void OnMasterPipe(uv_poll_t* handle, int status, int events);

  const WorkerLaunch& launch_;
  Logger logger_;
  uv_loop_t loop_{};
  std::optional<Registry> registry_;
  std::optional<AdminSync> admin_;  // operators' overrides, applied before every pick
  uint32_t slot_ = 0;
  Upstreams view_;
  // The fleet tier, when [fleet] is set: one Redis connection for this worker's checkers,
  // which it must outlive.
  std::unique_ptr<FleetTier> fleet_;
  std::vector<std::unique_ptr<Checker>> checkers_;
  std::unique_ptr<WorkerNet> net_;
  uv_signal_t sigterm_{}, sigint_{}, sigquit_{}, sigusr1_{};
  uv_poll_t master_pipe_{};
  uv_timer_t quit_timer_{};  // SIGQUIT: shutdown_timeout
  bool quitting_ = false;    // quit_timer_ is initialized
  bool stopping_ = false;
};

int Worker::Run() {
  uv_loop_init(&loop_);
  Status st = SetUp();
  if (!st.ok()) {
    logger_.Error(fmt::format("worker {}: {}", launch_.number, st.message()));
    return 2;
  }
  WatchSignalsAndMaster();
  registry_->SetWorkerState(slot_, WorkerState::kRunning);
  logger_.Notice(fmt::format("worker {} started", launch_.number));
  uv_run(&loop_, UV_RUN_DEFAULT);
  [[maybe_unused]] int closed = uv_loop_close(&loop_);
  assert(closed == 0);
  registry_->SetWorkerState(slot_, WorkerState::kExiting);
  return 0;
}

Status Worker::SetUp() {
  Result<Registry> registry = Registry::Attach(*launch_.segment);
  if (!registry.ok()) return registry.status();
  registry_ = *registry;
  Result<uint32_t> slot = registry_->ClaimWorkerSlot(getpid());
  if (!slot.ok()) return slot.status();
  slot_ = *slot;
  Result<Upstreams> view = registry_->BuildUpstreams();
  if (!view.ok()) return view.status();
  view_ = std::move(*view);
  admin_.emplace(*registry_);
  if (Status st = SpawnCheckers(); !st) return st;
  registry_->SetWorkerCheckers(slot_, static_cast<uint32_t>(checkers_.size()));
  // A balancer pick sees the shared version at once, as a status page does.
  view_.SetBeforeReadHook([this] { SyncCheckers(); });
  Result<std::unique_ptr<WorkerNet>> net = WorkerNet::Start({
      .loop = &loop_,
      .config = launch_.config,
      .listeners = launch_.listeners,
      .view = &view_,
      .registry = &*registry_,
      .dict = &launch_.segment->dict(),
      .logger = &logger_,
      .before_render = [this] { SyncCheckers(); },
      .on_passive = [this](std::string_view upstream, const PeerInfo& peer,
                           PassiveResult result) { ReportPassive(upstream, peer, result); },
  });
  if (!net.ok()) return net.status();
  net_ = std::move(*net);
  return Status::Ok();
}

Status Worker::SpawnCheckers() {
  const Config& config = *launch_.config;
  std::optional<StopAt> stop_at = TestStopAt(launch_.number);
  if (stop_at) {
    g_stop_at = *stop_at;
    if (g_stop_at.point == "dict_lock") SetDictLockedHookForTesting(&StopInsideDictLock);
  }
  if (config.fleet) {
    Result<std::unique_ptr<FleetTier>> fleet = CreateRedisFleet(&loop_, *config.fleet);
    if (!fleet.ok()) return Status::Error("fleet: " + fleet.error());
    fleet_ = std::move(*fleet);
  }
  for (const UpstreamConfig& u : config.upstreams) {
    if (!u.check) continue;
    CheckerEnv env;
    CheckerInternals internals;
    env.loop = &loop_;
    env.shm_name = config.shm.name;
    env.dict = &launch_.segment->dict();
    env.upstreams = &view_;
    // SyncNow() reads this word (one atomic load) before every pick and status page.
    if (std::optional<size_t> index = registry_->FindUpstream(u.name)) {
      internals.version_hint = registry_->version_hint(*index);
    }
    env.logger = &logger_;
    env.debug_events = logger_.enabled(LogLevel::kDebug);
    env.on_check = [this](const PeerCheckEvent& e) { registry_->RecordCheck(e); };
    env.on_cycle = [this](const CycleEvent& e) { registry_->RecordCycle(slot_, e); };
    env.on_skip = [this](const PeerSkipEvent& e) { registry_->RecordSkip(e); };
    env.on_fleet = [this](const FleetEvent& e) { registry_->RecordFleet(e); };
    internals.fleet = fleet_.get();
    if (stop_at && stop_at->point != "dict_lock") {
      internals.test_hook = [](std::string_view point) {
        if (point == g_stop_at.point) StopHere();
      };
    }
    CheckOptions options = *u.check;
    options.shm = config.shm.name;
    options.upstream = u.name;
    Result<std::unique_ptr<Checker>> checker = SpawnChecker(env, options, internals);
    if (!checker.ok()) {
      return Status::Error(
          fmt::format("upstream {}: failed to spawn health checker: {}", u.name, checker.error()));
    }
    checkers_.push_back(std::move(*checker));
  }
  return Status::Ok();
}

void Worker::SyncCheckers() {
  for (const auto& c : checkers_) c->SyncNow();
  if (admin_) admin_->SyncAll(view_);
}

// The balancer's view of a peer feeds its upstream's checker (a few upstreams: a scan).
void Worker::ReportPassive(std::string_view upstream, const PeerInfo& peer, PassiveResult result) {
  for (const auto& c : checkers_) {
    if (c->upstream() != upstream) continue;
    const HealthTransition transition = c->ReportPassive(peer.backup, peer.id, result);
    registry_->RecordPassive(upstream, peer.backup, peer.id, result, transition);
    return;
  }
}

void Worker::WatchSignalsAndMaster() {
  for (auto [handle, signum] : {std::pair{&sigterm_, SIGTERM}, std::pair{&sigint_, SIGINT},
                                std::pair{&sigquit_, SIGQUIT}, std::pair{&sigusr1_, SIGUSR1}}) {
    uv_signal_init(&loop_, handle);
    handle->data = this;
    uv_signal_start(handle, &Worker::OnSignal, signum);
  }
  uv_poll_init(&loop_, &master_pipe_, launch_.watch_fd);
  master_pipe_.data = this;
  uv_poll_start(&master_pipe_, UV_READABLE | UV_DISCONNECT, &Worker::OnMasterPipe);
  // The handlers are in place: signals that arrived since fork() are delivered now.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_UNBLOCK, &all, nullptr);
}

void Worker::OnSignal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<Worker*>(handle->data);
  if (signum == SIGQUIT) {
    self->Quit();
  } else if (signum == SIGUSR1) {
    self->ReopenLog();
  } else {
    self->Shutdown(signum == SIGINT ? "SIGINT" : "SIGTERM");
  }
}

// nginx's graceful stop: no new balancer connection, the ones in flight finish, for at
// most shutdown_timeout; then the same stop as SIGTERM's.
void Worker::Quit() {
  if (stopping_ || quitting_) return;
  logger_.Notice(fmt::format("worker {} shutting down gracefully (SIGQUIT)", launch_.number));
  if (!net_->Drain([this] { Shutdown("SIGQUIT, balancer connections finished"); })) {
    Shutdown("SIGQUIT");
    return;
  }
  quitting_ = true;
  // A reload's new workers probe from now on (and a stopping daemon needs no probes): a
  // draining worker would only double the checks and write to a segment nobody reads.
  for (const std::unique_ptr<Checker>& checker : checkers_) checker->Stop();
  uv_timer_init(&loop_, &quit_timer_);
  quit_timer_.data = this;
  auto timeout = static_cast<uint64_t>(launch_.config->daemon.shutdown_timeout_ms);
  uv_timer_start(&quit_timer_, &Worker::OnQuitTimeout, timeout, 0);
}

void Worker::OnQuitTimeout(uv_timer_t* timer) {
  static_cast<Worker*>(timer->data)->Shutdown("SIGQUIT, shutdown_timeout reached");
}

// After `mv` of the log file (logrotate): later lines go to a new file at the same path.
void Worker::ReopenLog() {
  if (Status st = logger_.Reopen(); !st) {
    logger_.Error(fmt::format("worker {}: reopening error_log: {}", launch_.number, st.message()));
    return;
  }
  logger_.Notice(fmt::format("worker {} reopened error_log", launch_.number));
}

void Worker::OnMasterPipe(uv_poll_t* handle, int /*status*/, int /*events*/) {
  // Only the master holds the write end and never writes: readable means EOF.
  static_cast<Worker*>(handle->data)->Shutdown("the master is gone");
}

// Stops the checkers and servers and closes every handle; uv_run then returns.
void Worker::Shutdown(std::string_view why) {
  if (stopping_) return;
  stopping_ = true;
  registry_->SetWorkerState(slot_, WorkerState::kExiting);
  logger_.Notice(fmt::format("worker {} exiting ({})", launch_.number, why));
  view_.SetBeforeReadHook(nullptr);
  checkers_.clear();  // each checker stops and closes its handles on the loop
  fleet_.reset();     // its connection and timers, after the checkers that use it
  if (net_) net_->Close();
  for (uv_signal_t* handle : {&sigterm_, &sigint_, &sigquit_, &sigusr1_}) {
    uv_close(reinterpret_cast<uv_handle_t*>(handle), nullptr);
  }
  if (quitting_) uv_close(reinterpret_cast<uv_handle_t*>(&quit_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&master_pipe_), nullptr);
}

}  // namespace

void RunWorkerProcess(const WorkerLaunch& launch) {
  // The kernel's own "master gone" signal; the watch pipe covers the race before this call.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != launch.master_pid) _exit(0);
  SetProcessTitle("worker process");
  int code = 0;
  {
    Worker worker(launch);
    code = worker.Run();
  }
  // _exit: the master's objects copied into this process (segment, sockets, pid file) must
  // not run their destructors here.
  _exit(code);
}

}  // namespace upcheck::daemon
