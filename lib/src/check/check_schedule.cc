#include "check/check_schedule.h"

#include <unistd.h>
#include <algorithm>
#include <cmath>

namespace upcheck {
namespace {

// The original's clamp of interval (protocol.md §3), applied to the new intervals too.
int64_t Clamped(int64_t ms) { return ms < 2 ? 2 : ms; }

}  // namespace

Status ValidateScheduleOptions(const CheckOptions& o) {
  if (o.fastinter_ms && *o.fastinter_ms <= 0) {
    return Status::Error("\"fastinter\" option must be > 0");
  }
  if (o.downinter_ms && *o.downinter_ms <= 0) {
    return Status::Error("\"downinter\" option must be > 0");
  }
  if (o.jitter && (*o.jitter < 0 || *o.jitter > 100)) {
    return Status::Error("\"jitter\" option must be between 0 and 100");
  }
  return Status::Ok();
}

int64_t Jittered(int64_t base_ms, int64_t jitter_percent, double u) {
  const double spread = static_cast<double>(base_ms) * static_cast<double>(jitter_percent) / 100;
  return Clamped(base_ms + std::llround((2 * u - 1) * spread));
}

int64_t DueKeyTtlMs(int64_t delay_ms, int64_t cycle_ms, int64_t elapsed_ms) {
  return std::max<int64_t>(1, delay_ms - cycle_ms / 2 - elapsed_ms);
}

CheckSchedule::CheckSchedule(const CheckOptions& o)
    : interval_ms_(o.interval_ms ? Clamped(*o.interval_ms) : 1000),
      fastinter_ms_(o.fastinter_ms ? Clamped(*o.fastinter_ms) : interval_ms_),
      downinter_ms_(o.downinter_ms ? Clamped(*o.downinter_ms) : interval_ms_),
      cycle_ms_(std::min({interval_ms_, fastinter_ms_, downinter_ms_})),
      jitter_percent_(o.jitter.value_or(0)),
      per_peer_(std::max({interval_ms_, fastinter_ms_, downinter_ms_}) > cycle_ms_),
      // Each worker draws its own sequence, so workers do not jitter in step.
      random_(std::random_device{}() ^ static_cast<uint64_t>(getpid())) {}

int64_t CheckSchedule::IntervalFor(PeerPhase phase) const {
  switch (phase) {
    case PeerPhase::kSteady:
      return interval_ms_;
    case PeerPhase::kBetween:
      return fastinter_ms_;
    case PeerPhase::kDown:
      return downinter_ms_;
  }
  return interval_ms_;
}

int64_t CheckSchedule::Draw(int64_t base_ms) {
  if (jitter_percent_ == 0) return base_ms;
  return Jittered(base_ms, jitter_percent_, std::uniform_real_distribution<double>(0, 1)(random_));
}

int64_t CheckSchedule::DrawCycleMs() { return Draw(cycle_ms_); }

int64_t CheckSchedule::DrawDelayMs(PeerPhase phase, int64_t cycle_delay_ms) {
  return UsesDueKey(phase) ? Draw(IntervalFor(phase)) : cycle_delay_ms;
}

}  // namespace upcheck
