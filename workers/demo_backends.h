// DemoBackends: the HTTP backends that --demo checks, served on 127.0.0.1 by a child
// process of their own.
//
// StartDemoBackends() binds every socket in the caller, then forks the child that serves
// them; the child dies with its parent (PR_SET_PDEATHSIG) and ignores SIGINT, so Ctrl-C
// reaches it through the master's SIGTERM. Main thread of the master, before it blocks
// signals.
#ifndef UPCHECK_WORKERS_DEMO_BACKENDS_H_
#define UPCHECK_WORKERS_DEMO_BACKENDS_H_

#include <sys/types.h>

#include "upcheck/status.h"

namespace upcheck::daemon {

struct DemoBackends {
  pid_t pid = 0;     // the serving child
  int steady = 0;    // always "200 OK"
  int flapping = 0;  // "200 OK" and "503" by turns, kFlapSeconds each
  int refusing = 0;  // bound, never listening: connections are refused
  int backup = 0;    // always "200 OK"
};

inline constexpr int kFlapSeconds = 6;

Result<DemoBackends> StartDemoBackends();

}  // namespace upcheck::daemon

#endif  // UPCHECK_WORKERS_DEMO_BACKENDS_H_
