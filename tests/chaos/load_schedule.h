// chaos_load's plan and judgement: how many peers, which flap and when (FlapSchedule),
// and the check of every backend state against the changes the checker showed
// (CheckTransitions). Header-only, for load_test.cc; pure functions of time, no I/O.
#ifndef UPCHECK_TESTS_CHAOS_LOAD_SCHEDULE_H_
#define UPCHECK_TESTS_CHAOS_LOAD_SCHEDULE_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "chaos_util.h"

namespace upcheck::testing {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr bool kAsan = kUnderAsan;

inline int64_t Ms(Clock::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

struct LoadPlan {
  int peers = 1000;
  int run_ms = 30000;  // the flapping phase; the last states are held past it
  int interval_ms = 1000;
  int concurrency = 100;
  int fall = 2;
  int rise = 2;
  // Slack for a loaded 2-core machine (other builds, the backend and the poller share
  // it): scheduling, the poll period, a slow cycle. ASan's probes are several times slower.
  int allowance_ms = kAsan ? 3000 : 1500;
  long rss_bound_kb = 4 * 1024;

  // The detection bound, in cycles of each worker (the registry's counters): fall probes
  // need fall cycles; one more for a probe that just missed the change, one for where the
  // peer sits in its cycle. A loaded machine stretches cycles, not their number.
  uint64_t bound_cycles() const { return static_cast<uint64_t>(fall) + 2; }
  // The same in time, for the schedule: every backend state is held for longer than this,
  // so that each one must show.
  int64_t bound_ms() const { return int64_t{fall} * interval_ms + 2 * interval_ms + allowance_ms; }
  int64_t hold_ms() const { return bound_ms() + 1000; }
};

inline LoadPlan MakePlan() {
  LoadPlan p;
  bool long_run = ChaosLong();
  p.peers = EnvCount("UPCHECK_CHAOS_LOAD_PEERS", long_run ? 10000 : 1000);
  p.run_ms = EnvCount("UPCHECK_CHAOS_LOAD_SECONDS", long_run ? 600 : 30) * 1000;
  // A cycle must fit in the interval: 10,000 peers take about 1.3 s on a loaded machine
  // (README, "Performance"), so large upstreams get 2 s.
  p.interval_ms = EnvCount("UPCHECK_CHAOS_LOAD_INTERVAL_MS", p.peers > 2000 ? 2000 : 1000);
  p.concurrency = std::max(1, p.peers / 10);  // groups of 10 sequential probes
  if (p.peers > 2000) p.rss_bound_kb = 8 * 1024;
  return p;
}

// Which backends flap, and when. Peer i flaps when i % 10 < 3 (30%, spread over the
// list). Its k-th toggle (k = 0, 1, ...) is at start + phase + k x hold, phases staggered
// over [0, hold); it toggles while that is before start + run, and once more if that left
// it failing: every flapping peer ends healthy, and every state lasts exactly `hold`.
// Before Start() every backend answers 200. Thread-safe (the server thread asks).
class FlapSchedule {
 public:
  explicit FlapSchedule(const LoadPlan& plan) : plan_(plan) {
    for (int i = 0; i < plan.peers; ++i) {
      if (Flaps(i)) ++flapping_;
    }
  }

  void Start(Clock::time_point t0) {
    start_ns_.store(t0.time_since_epoch().count(), std::memory_order_release);
  }
  Clock::time_point start() const {
    return Clock::time_point(Clock::duration(start_ns_.load(std::memory_order_acquire)));
  }

  static bool Flaps(int i) { return i % 10 < 3; }
  int flapping() const { return flapping_; }

  int64_t phase_ms(int i) const {
    int64_t j = int64_t{i / 10} * 3 + i % 10;  // rank among the flapping peers
    return j * plan_.hold_ms() / std::max(1, flapping_);
  }
  // Toggles of peer i over the whole run (even).
  int toggles(int i) const {
    if (!Flaps(i) || phase_ms(i) >= plan_.run_ms) return 0;
    int64_t k = (plan_.run_ms - phase_ms(i) + plan_.hold_ms() - 1) / plan_.hold_ms();
    return static_cast<int>(k + (k & 1));
  }
  Clock::time_point toggle_at(int i, int k) const {
    return start() + milliseconds(phase_ms(i) + int64_t{k} * plan_.hold_ms());
  }
  Clock::time_point last_toggle() const {
    Clock::time_point last = start();
    for (int i = 0; i < plan_.peers; ++i) {
      if (toggles(i) > 0) last = std::max(last, toggle_at(i, toggles(i) - 1));
    }
    return last;
  }

  bool Failing(int i, Clock::time_point now) const {
    int64_t t0 = start_ns_.load(std::memory_order_acquire);
    if (t0 == 0 || !Flaps(i)) return false;
    int64_t elapsed = Ms(now - Clock::time_point(Clock::duration(t0))) - phase_ms(i);
    if (elapsed < 0) return false;
    int64_t done = std::min<int64_t>(elapsed / plan_.hold_ms() + 1, toggles(i));
    return (done & 1) != 0;
  }

 private:
  LoadPlan plan_;
  int flapping_ = 0;
  std::atomic<int64_t> start_ns_{0};
};

struct Seen {
  Clock::time_point at;
  bool down;
};

// A few examples of each kind of failure, for the report.
class Examples {
 public:
  explicit Examples(Clock::time_point t0) : t0_(t0) {}
  void Add(const char* kind, const std::string& text) {
    if (lines_[kind].size() < 4) lines_[kind].push_back(text);
  }
  std::string At(Clock::time_point t) const { return "+" + std::to_string(Ms(t - t0_)) + " ms"; }
  void Print() const {
    for (const auto& [kind, lines] : lines_) {
      for (const std::string& l : lines) std::printf("  %s: %s\n", kind.c_str(), l.c_str());
    }
  }

 private:
  Clock::time_point t0_;
  std::map<std::string, std::vector<std::string>> lines_;
};

struct TransitionVerdict {
  long detected = 0, missed = 0, spurious = 0, late = 0, stable_moved = 0;
  int64_t worst_ms = 0;
  double sum_ms = 0;
  uint64_t worst_cycles = 0;
};

// For a change of a backend at `from` first seen at `seen_at`: the most cycles every worker
// had ended since `from` while the change was still not seen (the registry's counters are
// read before each look at the `d:` keys, so a slow look adds none).
using CyclesUnseen = std::function<uint64_t(Clock::time_point from, Clock::time_point seen_at)>;

// Every backend state of every peer against what the checker showed (`seen`, per peer).
// State k of a flapping peer (k = 0, 1, ...: DOWN, UP, DOWN, ...) holds from toggle k to
// toggle k + 1; the first change to it seen in that span is its detection, and must come
// within the bound (in cycles). Any other change seen is spurious; a stable peer must show
// none.
inline TransitionVerdict CheckTransitions(const LoadPlan& plan, const FlapSchedule& schedule,
                                          const std::vector<std::vector<Seen>>& seen,
                                          const CyclesUnseen& cycles_unseen, Examples& ex) {
  TransitionVerdict v;
  for (int i = 0; i < plan.peers; ++i) {
    const std::vector<Seen>& s = seen[static_cast<size_t>(i)];
    const std::string peer = "peer " + std::to_string(i);
    if (!FlapSchedule::Flaps(i)) {
      if (!s.empty()) {
        ++v.stable_moved;
        ex.Add("stable", "stable " + peer + " went DOWN at " + ex.At(s[0].at));
      }
      continue;
    }
    const int want = schedule.toggles(i);
    size_t j = 0;
    for (; j < s.size() && s[j].at < schedule.toggle_at(i, 0); ++j) {
      ++v.spurious;
      ex.Add("spurious", peer + ": changed to " + (s[j].down ? "DOWN" : "UP") + " at " +
                             ex.At(s[j].at) + ", before its backend first did");
    }
    for (int k = 0; k < want; ++k) {
      const bool to_down = (k & 1) == 0;
      const auto from = schedule.toggle_at(i, k);
      const auto to = k + 1 == want ? Clock::time_point::max() : schedule.toggle_at(i, k + 1);
      bool found = false;
      for (; j < s.size() && s[j].at < to; ++j) {
        if (found || s[j].down != to_down) {
          ++v.spurious;
          ex.Add("spurious", peer + ": extra change to " + (s[j].down ? "DOWN" : "UP") + " at " +
                                 ex.At(s[j].at) + " while its backend was " +
                                 (to_down ? "failing" : "healthy") + " since " + ex.At(from));
          continue;
        }
        found = true;
        int64_t latency = Ms(s[j].at - from);
        const uint64_t cycles = cycles_unseen(from, s[j].at);
        ++v.detected;
        v.worst_ms = std::max(v.worst_ms, latency);
        v.sum_ms += static_cast<double>(latency);
        v.worst_cycles = std::max(v.worst_cycles, cycles);
        if (cycles > plan.bound_cycles()) {
          ++v.late;
          ex.Add("late", peer + ": change " + std::to_string(k) + " (" + ex.At(from) +
                             ") still unseen after " + std::to_string(cycles) +
                             " cycles of every worker; seen after " + std::to_string(latency) +
                             " ms");
        }
      }
      if (!found) {
        ++v.missed;
        ex.Add("missed", peer + ": change " + std::to_string(k) + " to " +
                             (to_down ? "DOWN" : "UP") + " at " + ex.At(from) + " never seen");
      }
    }
  }
  return v;
}

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_CHAOS_LOAD_SCHEDULE_H_
