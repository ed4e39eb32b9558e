// Internal to this source tree (upcheckd, the tools and the tests); not installed.
// What the daemon and the tests give a Checker beyond CheckerEnv: the registry's shared
// version word and the fault tests' stop points. SpawnChecker() is Checker::Spawn() with
// them; Spawn() passes none. Same thread and lifetime rules as Checker::Spawn().
#ifndef UPCHECK_INTERNAL_CHECKER_INTERNALS_H_
#define UPCHECK_INTERNAL_CHECKER_INTERNALS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CHECK)
#error "upcheck/internal/checker_internals.h belongs to check/, a layer above (see lib/meson.build)"
#endif

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "upcheck/check_options.h"
#include "upcheck/checker.h"
#include "upcheck/internal/fleet_tier.h"
#include "upcheck/status.h"

namespace upcheck {

struct CheckerInternals {
  // Optional, shared by every process: the bit pattern of the last version published for
  // this upstream (Registry::version_hint). The publisher stores it; SyncNow() compares
  // it with one atomic load and reads the dict only when it differs.
  std::atomic<uint64_t>* version_hint = nullptr;
  // Optional, for fault tests: called at named points of a cycle so that a test can stop
  // or kill the process exactly there. "probing": a probe is about to start;
  // "after_d_write": SetPeerDownGlobally wrote (or deleted) the `d:` key, before the
  // publish; "before_publish": a new version is about to be published.
  std::function<void(std::string_view point)> test_hook;
  // Optional, one per process: the fleet tier (DESIGN §11). The host's lock winner then
  // also tries the fleet's lock, and probes only when it wins it; it must outlive the
  // checker.
  FleetTier* fleet = nullptr;
};

Result<std::unique_ptr<Checker>> SpawnChecker(const CheckerEnv& env, const CheckOptions& options,
                                              const CheckerInternals& internals);

}  // namespace upcheck

#endif  // UPCHECK_INTERNAL_CHECKER_INTERNALS_H_
