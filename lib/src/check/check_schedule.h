// CheckSchedule: when each peer of one checker is probed (DESIGN §10, "Scheduling").
//
// Still one probing cycle per upstream at a time: cycles run every cycle_ms(), the shortest
// of interval, fastinter and downinter, and a cycle probes only the peers that are due. A
// peer's own interval follows its state (PeerPhase); jitter spreads every drawn delay by up
// to ±jitter percent. With the defaults (fastinter = downinter = interval, jitter 0) every
// peer is due every cycle and the checker is the original's. One per checker; loop thread.
#ifndef UPCHECK_CHECK_CHECK_SCHEDULE_H_
#define UPCHECK_CHECK_CHECK_SCHEDULE_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CHECK)
#error "check/check_schedule.h belongs to check/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <random>

#include "upcheck/check_options.h"
#include "upcheck/status.h"

namespace upcheck {

// A peer's state as the schedule sees it, after a probe's result was counted.
enum class PeerPhase : uint8_t {
  kSteady,   // up, its last probe passed: interval
  kBetween,  // up with failures, or down with successes (not yet turned): fastinter
  kDown,     // down and failing: downinter
};

// The schedule keys' own checks, in Spawn's words: `"fastinter" option must be > 0`,
// `"downinter" option must be > 0`, `"jitter" option must be between 0 and 100`.
Status ValidateScheduleOptions(const CheckOptions& o);

// `base` moved by (2u - 1) * jitter percent of itself, for u in [0, 1], and clamped to the
// 2 ms minimum interval: u = 0.5 (or jitter 0) gives `base`.
int64_t Jittered(int64_t base_ms, int64_t jitter_percent, double u);

// The due key's TTL for a peer probed in a cycle that started `elapsed_ms` ago and next due
// `delay_ms` after that start: the key expires half a cycle early, so the cycle nearest the
// due time probes it rather than the first one after it. At least 1 ms.
int64_t DueKeyTtlMs(int64_t delay_ms, int64_t cycle_ms, int64_t elapsed_ms);

class CheckSchedule {
 public:
  // REQUIRES: ValidateScheduleOptions(o) passed.
  explicit CheckSchedule(const CheckOptions& o);

  int64_t cycle_ms() const { return cycle_ms_; }
  // Whether some peer may wait longer than a cycle: only then does the checker keep due
  // keys (`next:` in the dict), so the defaults add no key traffic to the original's.
  bool per_peer() const { return per_peer_; }
  int64_t IntervalFor(PeerPhase phase) const;

  // The next cycle's length: the lock holder takes the lock for it (minus 1 ms, as the
  // original's interval) and re-arms after it. cycle_ms() when jitter is 0.
  int64_t DrawCycleMs();
  // A peer's next delay in `phase`: drawn when its interval is longer than a cycle, else
  // the current cycle's `cycle_delay_ms` (the peer is due every cycle).
  int64_t DrawDelayMs(PeerPhase phase, int64_t cycle_delay_ms);
  // Whether a peer in `phase` waits on a due key (its interval is longer than a cycle).
  bool UsesDueKey(PeerPhase phase) const { return IntervalFor(phase) > cycle_ms_; }

 private:
  int64_t Draw(int64_t base_ms);

  int64_t interval_ms_, fastinter_ms_, downinter_ms_, cycle_ms_;
  int64_t jitter_percent_;
  bool per_peer_;
  std::mt19937_64 random_;
};

}  // namespace upcheck

#endif  // UPCHECK_CHECK_CHECK_SCHEDULE_H_
