// Child processes that run more than async-signal-safe code (malloc, iostream, libuv, a
// checker) start as this test binary run again: fork, then exec at once, with the child's
// part (a ChildRole) and its arguments on the command line.
//
// A test process often has threads (its loopback backends, reader threads), and a child
// forked from a threaded process may only call async-signal-safe functions until it execs:
// under ASan a forked child that went on to run a worker sometimes hung for good in its
// first allocation, taken while another thread held the allocator's lock.
//
//   int RunWorker(const std::vector<std::string>& args) { ...; return 0; }
//   const ChildRole kWorker("--my-worker", &RunWorker);  // at namespace scope
//   ...
//   pid_t pid = StartChild(kWorker, {"shm=" + name, "fd=" + std::to_string(fd)});
//
// The binary's main() must call RunChildRoleIfAsked() first: self_exec_main.cc does (link
// it, with gtest rather than gtest_main). Descriptors without FD_CLOEXEC stay open in the
// child; a shared anonymous mapping does not survive exec (share a memfd instead).
#ifndef UPCHECK_TESTS_SUPPORT_SELF_EXEC_H_
#define UPCHECK_TESTS_SUPPORT_SELF_EXEC_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace upcheck::testing {

// A part a child of this binary plays: run with argv[1] == flag, the binary calls `main`
// with the words after the flag and exits (_exit) with what it returns.
class ChildRole {
 public:
  using Main = int (*)(const std::vector<std::string>& args);
  // Registers the role; define each one once, at namespace scope.
  ChildRole(const char* flag, Main main);
  const char* flag() const { return flag_; }

 private:
  const char* flag_;
};

// In a child started by StartChild(): plays its role and never returns. Otherwise notes this
// binary's path (under valgrind /proc/self/exe names the test, not the tool) and returns.
void RunChildRoleIfAsked(int argc, char** argv);

// Starts this binary as a child playing `role` with `args`. Everything is built before
// fork(); the child only closes `close_in_child` and execs. Returns the pid, or -1.
pid_t StartChild(const ChildRole& role, const std::vector<std::string>& args,
                 const std::vector<int>& close_in_child = {});

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_SELF_EXEC_H_
