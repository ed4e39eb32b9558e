// PromtoolCheck: runs `promtool check metrics` (Debian's `prometheus` package, path in
// $PROMTOOL) on a Prometheus text page and says what it found. The test fails with the
// package's name when promtool is missing, never skips: meson registers these tests only
// where it found promtool. Test thread only; writes one temporary file and removes it.
#ifndef UPCHECK_TESTS_SUPPORT_PROMTOOL_CHECK_H_
#define UPCHECK_TESTS_SUPPORT_PROMTOOL_CHECK_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "subprocess.h"

namespace upcheck::testing {

// Success when promtool exits 0 and prints nothing (no lint problem) for `page`.
inline ::testing::AssertionResult PromtoolAccepts(const std::string& page) {
  const char* promtool = std::getenv("PROMTOOL");
  if (promtool == nullptr || access(promtool, X_OK) != 0) {
    return ::testing::AssertionFailure()
           << "promtool not found (PROMTOOL=" << (promtool != nullptr ? promtool : "")
           << "): install Debian's prometheus package "
              "(apt-get install --no-install-recommends prometheus)";
  }
  char path[] = "/tmp/upcheck-metrics-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return ::testing::AssertionFailure() << "mkstemp failed";
  const bool written = write(fd, page.data(), page.size()) == static_cast<ssize_t>(page.size());
  close(fd);
  // promtool reads the page on stdin only; RunProcess gives /dev/null.
  ProcessResult r =
      written ? RunProcess({"/bin/sh", "-c", "exec \"$0\" check metrics < \"$1\"", promtool, path})
              : ProcessResult{};
  unlink(path);
  if (r.exit_code == 0 && r.out.empty() && r.err.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "promtool check metrics exited " << r.exit_code << "\nstdout:\n"
         << r.out << "stderr:\n"
         << r.err << "page:\n"
         << page;
}

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_PROMTOOL_CHECK_H_
