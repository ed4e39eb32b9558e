// UvTestLoop: a libuv loop for tests, run until a condition holds or a deadline passes.
//
// RunUntil() waits on loop events with a deadline, re-checking its condition after each
// event and every few milliseconds (so a condition set by another thread, such as a test
// server's counter, is seen promptly); it never sleeps blindly.
// Close() drains the loop (closing handles run their callbacks) and returns
// uv_loop_close()'s result, which a test should expect to be 0. One thread only.
#ifndef UPCHECK_TESTS_SUPPORT_PROBE_UV_TEST_LOOP_H_
#define UPCHECK_TESTS_SUPPORT_PROBE_UV_TEST_LOOP_H_

#include <uv.h>

#include <chrono>
#include <functional>

namespace upcheck::testing {

class UvTestLoop {
 public:
  UvTestLoop();
  ~UvTestLoop();  // Close() if not done
  UvTestLoop(const UvTestLoop&) = delete;
  UvTestLoop& operator=(const UvTestLoop&) = delete;

  uv_loop_t* get() { return &loop_; }

  // Runs the loop until `done()` is true (checked after each loop iteration) or `timeout`
  // passes. Returns done(). Returns at once, false, if nothing is left that could run.
  bool RunUntil(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Runs the loop until it has nothing left to do or `timeout` passes; true if idle.
  bool Drain(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Drains, then closes the loop. Returns uv_loop_close()'s result (0: closed clean).
  int Close();

 private:
  static void OnDeadline(uv_timer_t* timer);
  static void OnTick(uv_timer_t* timer);

  uv_loop_t loop_;
  uv_timer_t deadline_;
  uv_timer_t tick_;
  bool expired_ = false;
  bool closed_ = false;
};

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_PROBE_UV_TEST_LOOP_H_
