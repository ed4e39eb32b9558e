// CheckerHarness: one "worker" in the test process, as Test::Nginx runs the original
// (one worker, debug log): a real segment, a libuv loop, an Upstreams view, checkers, and
// a log captured line by line. Tests drive it by cycles (an event), never by sleeping.
#ifndef UPCHECK_TESTS_INTEGRATION_CHECKER_HARNESS_H_
#define UPCHECK_TESTS_INTEGRATION_CHECKER_HARNESS_H_

#include <uv.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "upcheck/check_options.h"
#include "upcheck/checker.h"
#include "upcheck/internal/checker_internals.h"
#include "upcheck/log.h"
#include "upcheck/segment.h"
#include "upcheck/upstreams.h"

namespace upcheck::testing {

struct LogLine {
  LogLevel level;
  std::string text;
};

class CheckerHarness {
 public:
  explicit CheckerHarness(size_t shm_size = 1 << 20);
  ~CheckerHarness();

  Upstreams& upstreams() { return upstreams_; }
  SharedDict& dict() { return segment_->dict(); }
  uv_loop_t* loop() { return &loop_; }
  const std::string& shm_name() const { return shm_name_; }

  // The standard options of original-tests.md: type http, the request R, shm, upstream.
  CheckOptions Options(const std::string& upstream = "foo.com") const;
  Result<Checker*> Spawn(const CheckOptions& options);
  // CheckerInternals::test_hook for the checkers spawned from now on ("probing", ...): lets a
  // test act at an exact point of a cycle, e.g. as another worker would meanwhile.
  void SetTestHook(std::function<void(std::string_view point)> hook) { test_hook_ = hook; }
  // CheckerEnv::on_check for the checkers spawned from now on: each counted probe's event.
  void SetOnCheck(std::function<void(const PeerCheckEvent&)> on_check) { on_check_ = on_check; }

  // Runs the loop until `n` cycles have ended for `upstream` (counted since the harness
  // started) or the deadline passes. Returns whether the count was reached.
  bool RunCycles(int n, const std::string& upstream = "foo.com",
                 std::chrono::milliseconds deadline = std::chrono::seconds(20));
  // Runs the loop for a while (only where the scenario itself waits on time).
  void RunFor(std::chrono::milliseconds duration);
  int cycles(const std::string& upstream = "foo.com") const;

  // Two picks through the balancer, as the original tests' two proxied requests.
  std::vector<std::string> Picks(const std::string& upstream = "foo.com", int n = 2);

  const std::vector<LogLine>& log() const { return log_; }
  // The log as original-tests.md's tokens: OK(x), FAIL(x), DOWN(x,n), UP(x,n), PUB(n),
  // UPG(n), BADCODE(x,c); x with "127.0.0.1" dropped (":12354"). Only `kinds` are kept.
  std::vector<std::string> Events(const std::set<std::string>& kinds) const;
  bool Logged(const std::string& substring) const;
  bool LoggedAtLevel(LogLevel level) const;
  int CountLogged(const std::string& substring) const;

 private:
  std::string shm_name_;
  std::unique_ptr<Segment> segment_;
  uv_loop_t loop_;
  Upstreams upstreams_;
  std::vector<LogLine> log_;
  Logger logger_;
  std::vector<std::unique_ptr<Checker>> checkers_;
  std::map<std::string, int> cycles_;
  std::function<void(std::string_view)> test_hook_;
  std::function<void(const PeerCheckEvent&)> on_check_;
  std::string stop_upstream_;
  int stop_at_ = 0;
};

// Joins tokens with spaces, for readable failures.
std::string Join(const std::vector<std::string>& tokens);
// tokens repeated `times`.
std::vector<std::string> Repeat(const std::vector<std::string>& tokens, int times);
std::vector<std::string> Concat(std::initializer_list<std::vector<std::string>> parts);

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_INTEGRATION_CHECKER_HARNESS_H_
