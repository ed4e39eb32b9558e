// Runs upcheck-probe's one probe: resolves the endpoint (getaddrinfo, only for a host name),
// then probes it with the checker's own Prober on a libuv loop of its own, and returns the
// engine's ProbeResult with the times the tool measured around it.
//
// Blocks until the probe ends (each step has the check's timeout). Ignores SIGPIPE, as the
// Prober requires. Main thread only.
#ifndef UPCHECK_TOOLS_PROBE_RUN_H_
#define UPCHECK_TOOLS_PROBE_RUN_H_

#include <string>

#include "probe/probe_options.h"
#include "probe/probe_result.h"
#include "probe_setup.h"
#include "upcheck/status.h"

namespace upcheck::probe_tool {

struct ProbeRun {
  std::string peer;           // the name in the engine's messages: "127.0.0.1:8080", "[::1]:443"
  std::string address;        // what was connected to: the address literal, or the unix path
  bool looked_up = false;     // the host was a name that getaddrinfo resolved
  double resolved_ms = 0;     // from the start of the run to the end of the lookup
  double probe_start_ms = 0;  // from the start of the run to Prober::Start
  ProbeResult result;         // its timings are from probe_start_ms
};

// Error (nothing was probed): the host does not resolve, or the Prober refuses the options
// (a trust store or a client key that cannot be loaded).
Result<ProbeRun> RunProbe(const ProbeEndpoint& endpoint, const CheckOptions& check,
                          const ProbeOptions& options);

}  // namespace upcheck::probe_tool

#endif  // UPCHECK_TOOLS_PROBE_RUN_H_
