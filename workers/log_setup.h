// MakeLogger: the Logger that [daemon] error_log and log_level ask for. Used by the master
// and, after fork(), by each worker (each opens the file for itself, O_APPEND, so lines of
// several processes never interleave).
#ifndef UPCHECK_WORKERS_LOG_SETUP_H_
#define UPCHECK_WORKERS_LOG_SETUP_H_

#include "upcheck/config.h"
#include "upcheck/log.h"
#include "upcheck/status.h"

namespace upcheck::daemon {

// Errors: a bad level (never, for a parsed config) or a file that cannot be opened.
Result<Logger> MakeLogger(const DaemonConfig& daemon);

}  // namespace upcheck::daemon

#endif  // UPCHECK_WORKERS_LOG_SETUP_H_
