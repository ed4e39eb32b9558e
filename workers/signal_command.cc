#include "signal_command.h"

#include <signal.h>

#include <cerrno>
#include <system_error>

#include <fmt/format.h>

#include "pid_file.h"
#include "upcheck/config.h"

namespace upcheck::daemon {
namespace {

// -p wins; else the configuration's pid_file.
Result<std::string> PidFilePath(const std::string& config_path, const std::string& pid_file) {
  if (!pid_file.empty()) return pid_file;
  if (config_path.empty()) return Status::Error("-s needs -c CONFIG or -p PID_FILE");
  Result<Config> config = LoadConfig(config_path);
  if (!config.ok()) return config.status();
  if (!config->daemon.pid_file) {
    return Status::Error(
        fmt::format("{} sets no [daemon] pid_file: -s needs it (or -p PID_FILE) to find the master",
                    config_path));
  }
  return *config->daemon.pid_file;
}

}  // namespace

int SignalForAction(const std::string& action) {
  if (action == "reload") return SIGHUP;
  if (action == "stop") return SIGTERM;
  if (action == "quit") return SIGQUIT;
  if (action == "reopen") return SIGUSR1;
  return 0;
}

Status SignalDaemon(const std::string& action, const std::string& config_path,
                    const std::string& pid_file) {
  int signum = SignalForAction(action);
  if (signum == 0) {
    return Status::Error(
        fmt::format("unknown signal action \"{}\" (reload, stop, quit or reopen)", action));
  }
  Result<std::string> path = PidFilePath(config_path, pid_file);
  if (!path.ok()) return path.status();
  Result<pid_t> pid = ReadPidFile(*path);
  if (!pid.ok()) return pid.status();
  if (kill(*pid, signum) != 0) {
    std::string why =
        errno == ESRCH ? std::string("no process") : std::generic_category().message(errno);
    return Status::Error(fmt::format("kill({}, SIG{}) from pid file {}: {}", *pid,
                                     sigabbrev_np(signum), *path, why));
  }
  return Status::Ok();
}

}  // namespace upcheck::daemon
