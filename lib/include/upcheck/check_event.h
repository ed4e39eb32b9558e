// What a Checker reports (CheckerEnv::on_check, on_cycle), as plain values: enums and
// numbers, with the one text a probe found (<err>) as it was found. The original's
// message is rendered where it is shown, from the kind, the peer's name and the detail.
// The views point into the checker's state: valid during the callback only.
#ifndef UPCHECK_CHECK_EVENT_H_
#define UPCHECK_CHECK_EVENT_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CHECK)
#error "upcheck/check_event.h belongs to check/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "upcheck/probe_kind.h"

namespace upcheck {

// What a counted probe did to the peer's state (as Envoy's HealthTransition, with the
// direction: the details count the two apart).
enum class HealthTransition : uint8_t { kUnchanged = 0, kTurnedUp = 1, kTurnedDown = 2 };

// One counted probe; passed after the counters and any transition were applied.
struct PeerCheckEvent {
  std::string_view upstream;
  bool backup = false;
  uint32_t id = 0;
  std::string_view peer;            // configured name
  ProbeKind kind = ProbeKind::kOk;  // the step that failed; kOk for a success
  bool timed_out = false;           // that step failed with "timeout"
  std::string_view detail;          // <err> alone: "connection refused", "timeout", the
                                    // status line as read (unescaped), the status; "" for ok
  std::optional<double> status;     // the parsed status code, when a status line was read
  int64_t unix_ms = 0;              // when the probe ended, Unix time
  double duration_ms = 0;
  HealthTransition transition = HealthTransition::kUnchanged;
  bool down = false;  // this checker's view after the probe
  double streak = 0;  // the peer's ok (success) or nok (failure) counter after the probe
  int64_t next_check_unix_ms = 0;  // when the schedule has the peer due next, Unix time

  bool ok() const { return kind == ProbeKind::kOk; }
};

// What real traffic to a peer met (passive checks, DESIGN §10): reported by a balancer
// per connection. Every value but kOk counts toward the peer's passive fall.
enum class PassiveResult : uint8_t { kOk = 0, kConnectFailed = 1, kConnectTimeout = 2, kReset = 3 };

// "ok", "connect", "timeout" or "reset": how logs and tests name a PassiveResult.
constexpr std::string_view PassiveResultName(PassiveResult result) {
  switch (result) {
    case PassiveResult::kOk:
      return "ok";
    case PassiveResult::kConnectFailed:
      return "connect";
    case PassiveResult::kConnectTimeout:
      return "timeout";
    case PassiveResult::kReset:
      return "reset";
  }
  return "?";
}

// A peer whose active probe this cycle skipped: real traffic to it passed within the
// interval (skip_active_when_passing).
struct PeerSkipEvent {
  std::string_view upstream;
  bool backup = false;
  uint32_t id = 0;
  std::string_view peer;  // configured name
};

// Where a host stands in its fleet (DESIGN §11) for one upstream's cycle.
enum class FleetRole : uint8_t {
  kNone = 0,      // no fleet configured, or no cycle yet
  kWinner = 1,    // this host probes for the fleet
  kFollower = 2,  // another host does: this one copies its results
  kAlone = 3,     // Redis failed: this host probes on its own, as without a fleet
};

constexpr std::string_view FleetRoleName(FleetRole role) {
  switch (role) {
    case FleetRole::kNone:
      return "none";
    case FleetRole::kWinner:
      return "winner";
    case FleetRole::kFollower:
      return "follower";
    case FleetRole::kAlone:
      return "alone";
  }
  return "?";
}

// A peer whose state this host copied from the fleet.
struct FleetCopy {
  bool backup = false;
  uint32_t id = 0;
  std::string_view peer;  // configured name
  bool down = false;      // its state now
};

// The fleet's answer at the start of a cycle of this host's lock winner.
struct FleetEvent {
  std::string_view upstream;
  FleetRole role = FleetRole::kNone;
  double version = 0;                 // the fleet version this host holds now; 0: none yet
  std::string_view holder;            // the host holding the fleet lock; "" when unknown
  bool fell_back = false;             // kAlone after a cycle that was not
  bool rejoined = false;              // not kAlone after a cycle that was
  std::string_view error;             // kAlone: what failed
  std::span<const FleetCopy> copies;  // transitions copied from the fleet
};

// A cycle's start (probing = whether this process holds the lock) and end.
struct CycleEvent {
  std::string_view upstream;
  bool end = false;
  bool probing = false;
  double version = 0;  // this checker's version after the cycle (at end)
};

}  // namespace upcheck

#endif  // UPCHECK_CHECK_EVENT_H_
