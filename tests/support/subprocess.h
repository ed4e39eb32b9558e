// RunProcess: run a program to completion and capture what it said, for end-to-end tests
// of the real binaries.
//
// Safe from any thread of a test process (it uses posix_spawn, not fork). The child gets
// stdin from /dev/null and the caller's environment. A child still running at the deadline
// is killed with SIGKILL and reported as timed out.
#ifndef UPCHECK_TESTS_SUPPORT_SUBPROCESS_H_
#define UPCHECK_TESTS_SUPPORT_SUBPROCESS_H_

#include <chrono>
#include <string>
#include <vector>

namespace upcheck::testing {

struct ProcessResult {
  int exit_code = -1;      // the exit status; 128 + signal if killed; -1 if it never ran
  std::string out;         // everything written to stdout
  std::string err;         // everything written to stderr (or why the spawn failed)
  bool timed_out = false;  // killed at the deadline
};

// argv[0] is the path of the program (no PATH search).
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_SUBPROCESS_H_
