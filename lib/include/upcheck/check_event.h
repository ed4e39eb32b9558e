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
  bool down = false;               // this checker's view after the probe
  int64_t next_check_unix_ms = 0;  // when the schedule has the peer due next, Unix time

  bool ok() const { return kind == ProbeKind::kOk; }
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
