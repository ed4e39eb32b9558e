// Unique names for per-test resources (segments, temp dirs), so that tests running in
// parallel never share one.
#ifndef UPCHECK_TESTS_SUPPORT_TEST_NAMES_H_
#define UPCHECK_TESTS_SUPPORT_TEST_NAMES_H_

#include <unistd.h>

#include <atomic>
#include <string>

namespace upcheck::testing {

inline std::string UniqueSegmentName(const std::string& stem = "t") {
  static std::atomic<int> counter{0};
  return stem + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_TEST_NAMES_H_
