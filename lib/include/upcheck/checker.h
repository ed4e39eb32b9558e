// Checker: the original's per-upstream health checker (healthcheck.lua's spawn_checker),
// running on a libuv loop that the caller owns.
//
// Every process that serves an upstream spawns one checker for it. On every tick the
// checker syncs its process's Upstreams view from the shared dict (by version), tries the
// cluster-wide lock, probes the peers if it won, counts rise/fall in the dict, flips peers
// and publishes a new version (protocol.md §6-§9). Loop thread only; the dict and the
// Upstreams view must outlive the checker. Not copyable.
#ifndef UPCHECK_CHECKER_H_
#define UPCHECK_CHECKER_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CHECK)
#error "upcheck/checker.h belongs to check/, a layer above (see lib/meson.build)"
#endif

#include <functional>
#include <memory>
#include <string>

#include "upcheck/check_event.h"
#include "upcheck/check_options.h"
#include "upcheck/status.h"

struct uv_loop_s;

namespace upcheck {

class Logger;
class SharedDict;
class Upstreams;

struct CheckerEnv {
  uv_loop_s* loop = nullptr;
  std::string shm_name;  // the dict's name: CheckOptions::shm must equal it
  SharedDict* dict = nullptr;
  Upstreams* upstreams = nullptr;  // this process's view; the checker flips its peers
  const Logger* logger = nullptr;
  bool debug_events = false;  // the original's debug_mode: the debug lines and no_timer
  std::function<void(const PeerCheckEvent&)> on_check;  // optional
  std::function<void(const CycleEvent&)> on_cycle;      // optional
  std::function<void(const PeerSkipEvent&)> on_skip;    // optional: an active probe skipped
  std::function<void(const FleetEvent&)> on_fleet;      // optional: the fleet's answer
};

struct CheckerInternals;

// Spawn()'s checks that need neither a segment nor an upstream, in its order and with its
// strings: type, http_req, then the timeout, the scheduling keys (fastinter, downinter
// > 0; jitter 0..100); then the TLS keys of DESIGN §9, loading the
// client certificate when one is given, and the trust store a verifying TLS check loads
// (ValidateTrustStore). For hosts that validate at configuration time
// (`nginx -t`) what they spawn later, after fork.
Status ValidateCheckOptions(const CheckOptions& options);
// Loads ca_file as every https prober would: `failed to load ca_file "x": <why>`.
Status ValidateTrustStore(const std::string& ca_file);

class Checker {
 public:
  // spawn_checker(): validates the options in the original's order with its error strings
  // (protocol.md §3), then `"timeout" option must be >= 0` (Q11 fixed), the scheduling
  // keys' errors (`"jitter" option must be between 0 and 100`) and TLS set-up errors. On success
  // the first cycle runs on the loop's next iteration, and the upstream's checker count goes up by
  // one. With no_timer (and debug_events) one whole cycle runs before Spawn returns. REQUIRES: for
  // no_timer, not called from inside uv_run on env.loop.
  static Result<std::unique_ptr<Checker>> Spawn(const CheckerEnv& env, const CheckOptions& options);

  // Stop() and give the handles back to the loop; run the loop until it has nothing left
  // and uv_loop_close() succeeds.
  ~Checker();
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  // The premature path: no more cycles, probes in flight aborted. A change this checker
  // made but had not published yet (a cycle cut short after a `d:` write) is published
  // now, so that no other process keeps a view the dict contradicts. The checker count is
  // left as it is (as the original does on exit).
  void Stop();

  // check_peers_updates() outside the timer: applies a newer shared version to this
  // process's view at once. One dict read, or one atomic load when the daemon's shared
  // version word says nothing changed.
  void SyncNow();

  // One connection's outcome as a balancer saw it (passive checks, DESIGN §10). Counts
  // the peer's passive streak in the dict; a failure that makes it reach the passive fall
  // turns an up peer down as a failed probe would (the `d:` flag, a published version, a
  // warn line) and returns kTurnedDown. Without passive options, or for an unknown peer,
  // it does nothing and returns kUnchanged.
  HealthTransition ReportPassive(bool backup, uint32_t id, PassiveResult result);

  const std::string& upstream() const;
  double version() const;

 private:
  // Spawn() with the daemon's and the tests' extras (upcheck/internal/checker_internals.h).
  friend Result<std::unique_ptr<Checker>> SpawnChecker(const CheckerEnv& env,
                                                       const CheckOptions& options,
                                                       const CheckerInternals& internals);
  class Impl;
  explicit Checker(Impl* impl);
  Impl* impl_;  // owned; frees itself once its handles are closed
};

}  // namespace upcheck

#endif  // UPCHECK_CHECKER_H_
