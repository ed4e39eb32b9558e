#include "log_setup.h"

namespace upcheck::daemon {

Result<Logger> MakeLogger(const DaemonConfig& daemon) {
  Result<LogLevel> level = ParseLogLevel(daemon.log_level);
  if (!level.ok()) return level.status();
  if (daemon.error_log == "stderr") return Logger::Stderr(*level);
  Result<Logger> file = Logger::File(daemon.error_log, *level);
  if (!file.ok()) return Status::Error("error_log: " + file.error());
  return file;
}

}  // namespace upcheck::daemon
