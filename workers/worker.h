// The worker process: what one of upcheckd's preforked children runs after fork().
//
// A worker claims a row in the worker table, builds its own libuv loop, Upstreams view and
// Logger, runs one Checker per upstream with a [upstream.check] table, serves the status
// listener and the balancers on the sockets the master opened, and exits 0 on SIGTERM or
// SIGINT (checkers stopped, servers closed, loop closed clean), on SIGQUIT once its
// balancer connections have ended (or shutdown_timeout passed), or when the master is gone
// (EOF on the watch pipe, or PR_SET_PDEATHSIG). SIGUSR1 reopens error_log. Child process only;
// never returns.
#ifndef UPCHECK_WORKERS_WORKER_H_
#define UPCHECK_WORKERS_WORKER_H_

#include <sys/types.h>

#include "listeners.h"
#include "upcheck/config.h"
#include "upcheck/segment.h"

namespace upcheck::daemon {

struct WorkerLaunch {
  int number = 1;                        // 1..daemon.workers, for log lines
  pid_t master_pid = 0;                  // to notice a master that died before prctl()
  const Config* config = nullptr;        // the configuration this worker serves
  Segment* segment = nullptr;            // that configuration's segment, mapped by the master
  const Listeners* listeners = nullptr;  // that configuration's sockets
  int watch_fd = -1;  // read end of a pipe only the master writes to: EOF = master gone
};

// Runs the worker and _exit()s with its status. REQUIRES: in a child just forked by the
// master, with SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGHUP and SIGCHLD blocked (they are unblocked
// once the worker's own handlers are in place).
[[noreturn]] void RunWorkerProcess(const WorkerLaunch& launch);

}  // namespace upcheck::daemon

#endif  // UPCHECK_WORKERS_WORKER_H_
