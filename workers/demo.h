// The --demo mode: upcheckd on a built-in configuration with its own backends on
// loopback, so that a newcomer sees a peer UP, one DOWN, one flapping and a backup.
//
// RunDemo() forks a "demo backends" child (it dies with the master: PR_SET_PDEATHSIG),
// builds the configuration in memory, prints what to look at on stdout and runs the
// master, which prints the status page every 2 s until Ctrl-C. Main thread only.
#ifndef UPCHECK_WORKERS_DEMO_H_
#define UPCHECK_WORKERS_DEMO_H_

namespace upcheck::daemon {

// Returns the exit status (0 after Ctrl-C, 1 when the demo could not start).
int RunDemo();

}  // namespace upcheck::daemon

#endif  // UPCHECK_WORKERS_DEMO_H_
