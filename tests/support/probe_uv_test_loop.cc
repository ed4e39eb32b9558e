#include "probe_uv_test_loop.h"

namespace upcheck::testing {

UvTestLoop::UvTestLoop() {
  uv_loop_init(&loop_);
  uv_timer_init(&loop_, &deadline_);
  deadline_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&deadline_));  // never keeps the loop alive
  uv_timer_init(&loop_, &tick_);
  uv_unref(reinterpret_cast<uv_handle_t*>(&tick_));
}

UvTestLoop::~UvTestLoop() { Close(); }

void UvTestLoop::OnTick(uv_timer_t* /*timer*/) {}

void UvTestLoop::OnDeadline(uv_timer_t* timer) {
  static_cast<UvTestLoop*>(timer->data)->expired_ = true;
}

bool UvTestLoop::RunUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  expired_ = false;
  uv_timer_start(&deadline_, OnDeadline, static_cast<uint64_t>(timeout.count()), 0);
  uv_timer_start(&tick_, OnTick, 5, 5);
  // Both timers are unreferenced: if only they are left, uv_run returns 0 and we stop.
  while (!done() && !expired_) {
    if (uv_run(&loop_, UV_RUN_ONCE) == 0 && !done()) {
      break;
    }
  }
  uv_timer_stop(&deadline_);
  uv_timer_stop(&tick_);
  return done();
}

bool UvTestLoop::Drain(std::chrono::milliseconds timeout) {
  bool idle = false;
  RunUntil([&] { return idle = !uv_loop_alive(&loop_); }, timeout);
  return idle;
}

int UvTestLoop::Close() {
  if (closed_) {
    return 0;
  }
  closed_ = true;
  Drain();
  uv_close(reinterpret_cast<uv_handle_t*>(&deadline_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  uv_run(&loop_, UV_RUN_NOWAIT);
  return uv_loop_close(&loop_);
}

}  // namespace upcheck::testing
