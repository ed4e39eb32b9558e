// `upcheckd -s reload|stop|quit|reopen`: signals the running master through its pid file,
// as `nginx -s` does.
//
// Any process. The pid file is `pid_file` given with -p, else [daemon] pid_file of the
// configuration. Errors are one line each, for "upcheckd: " + the message on stderr.
#ifndef UPCHECK_WORKERS_SIGNAL_COMMAND_H_
#define UPCHECK_WORKERS_SIGNAL_COMMAND_H_

#include <string>

#include "upcheck/status.h"

namespace upcheck::daemon {

// The actions -s accepts, each with its signal: reload SIGHUP, stop SIGTERM, quit SIGQUIT,
// reopen SIGUSR1. Returns 0 for another word.
int SignalForAction(const std::string& action);

// Sends the action's signal to the pid in the pid file. Errors: no pid file configured,
// a config that does not load, a missing or unreadable pid file, and "no process" when
// the pid file names a process that is gone.
Status SignalDaemon(const std::string& action, const std::string& config_path,
                    const std::string& pid_file);

}  // namespace upcheck::daemon

#endif  // UPCHECK_WORKERS_SIGNAL_COMMAND_H_
