// Master: SIGHUP. The new configuration gets a new segment under the same name, new
// workers and whatever sockets changed; the old workers stop gracefully on the old mapping,
// as nginx's do: they stop accepting, and their balancer connections in flight finish
// (for at most [daemon] shutdown_timeout, which they enforce themselves).
#include <signal.h>

#include <string>

#include <fmt/format.h>

#include "log_setup.h"
#include "master.h"

namespace upcheck::daemon {
namespace {

// A multi-line config report as one log line.
std::string OneLine(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  for (size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at)) {
    text.replace(at, 1, "; ");
  }
  return text;
}

}  // namespace

void Master::Reload() {
  if (options_.config_path.empty()) {
    logger_.Warn("signal 1 (SIGHUP) received, but there is no config file to reload");
    return;
  }
  logger_.Notice("signal 1 (SIGHUP) received, reconfiguring");
  Result<Config> next = LoadConfig(options_.config_path);
  std::vector<std::string> opened;
  Result<std::unique_ptr<Generation>> generation =
      next.ok() ? BuildNext(std::move(*next), &opened) : next.status();
  if (!generation.ok()) {
    std::string line = fmt::format("reload failed: {}; keeping the current configuration",
                                   OneLine(generation.error()));
    logger_.Error(line);
    Record(EventKind::kReload, std::move(line));
    return;
  }
  for (const std::string& warning : (*generation)->config.warnings) logger_.Warn(warning);
  Announce(opened);
  Generation* old = current_.get();
  old->retiring = true;
  retiring_.push_back(std::move(current_));
  current_ = std::move(*generation);
  ConfigureHook();
  Record(EventKind::kReload,
         fmt::format("reload done: {} upstream(s), {} worker(s)", current_->config.upstreams.size(),
                     current_->config.daemon.workers));
  int workers = current_->config.daemon.workers;
  respawn_.assign(static_cast<size_t>(workers), Respawn{});
  for (int n = 1; n <= workers; ++n) Spawn(*current_, n);
  SignalChildren(old, SIGQUIT);
  DropRetired();  // an old configuration without a live worker goes at once
  logger_.Notice("reload done");
}

// Everything the new configuration needs, made before anything of the running one changes
// (except the segment's name, which the new segment takes over).
Result<std::unique_ptr<Master::Generation>> Master::BuildNext(Config next,
                                                              std::vector<std::string>* opened) {
  if (next.daemon.pid_file != current_->config.daemon.pid_file) {
    logger_.Warn("a changed pid_file takes effect at the next start");
  }
  Result<Logger> logger = MakeLogger(next.daemon);
  if (!logger.ok()) return logger.status();
  Result<Listeners> listeners = OpenListeners(next, &current_->listeners, opened);
  if (!listeners.ok()) return listeners.status();
  Result<DaemonSegment> shm = ReplaceSegment(next, current_->config.shm.name, logger_);
  if (!shm.ok()) return shm.status();
  if (!shm->reattached) {
    DaemonSegment& from = current_->shm;
    size_t copied = CarryDictState(from.segment->dict(), from.registry, shm->segment->dict(),
                                   shm->registry, next.shm.reload_state);
    logger_.Notice(fmt::format("carried {} dict entries over to the new segment ({})", copied,
                               ReloadStateName(next.shm.reload_state)));
    // The journal goes on with its numbers, so that a follower sees no break.
    Journal* old_journal = from.registry.journal();
    Journal* new_journal = shm->registry.journal();
    if (old_journal != nullptr && new_journal != nullptr) new_journal->CarryFrom(*old_journal);
  }
  logger_ = std::move(*logger);
  return std::make_unique<Generation>(
      Generation{std::move(next), std::move(*shm), std::move(*listeners), false});
}

}  // namespace upcheck::daemon
