// SlowToolFactor: how many times the tests' timing allowances should be stretched because
// every process runs under a tool that slows it down, valgrind memcheck above all (20-50
// times slower than a plain build).
//
// It is 1 in a normal run, so deadlines and TTLs keep their tight values there. The meson
// test setup 'valgrind' sets UPCHECK_SLOW=20 (any positive integer is honoured); a test
// binary started by hand under valgrind without it still gets 20 from RUNNING_ON_VALGRIND.
// Scale only allowances (deadlines, TTLs, delays that must outlast work); never the
// assertion itself. Safe from any thread; the value is read once.
#ifndef UPCHECK_TESTS_SUPPORT_SLOW_TOOL_H_
#define UPCHECK_TESTS_SUPPORT_SLOW_TOOL_H_

#include <algorithm>
#include <chrono>
#include <cstdlib>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif

namespace upcheck::testing {

inline int SlowToolFactor() {
  static const int factor = [] {
    if (const char* env = std::getenv("UPCHECK_SLOW")) {
      int n = std::atoi(env);
      if (n > 0) return n;
    }
#if defined(RUNNING_ON_VALGRIND)
    if (RUNNING_ON_VALGRIND) return 20;
#endif
    return 1;
  }();
  return factor;
}

inline bool UnderSlowTool() { return SlowToolFactor() > 1; }

// `d` stretched by SlowToolFactor().
template <typename Rep, typename Period>
std::chrono::duration<Rep, Period> Slow(std::chrono::duration<Rep, Period> d) {
  return d * SlowToolFactor();
}

// A check interval or probe timeout (ms) that must outlast one probe, in a test that also
// counts many cycles or waits for timeouts: stretched a quarter as much as deadlines (5 times
// under valgrind), enough for a probe and not so much that the test crawls.
inline int SlowInterval(int ms) { return ms * std::max(1, SlowToolFactor() / 4); }

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_SLOW_TOOL_H_
