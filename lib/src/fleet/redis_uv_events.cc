#include "fleet/redis_uv_events.h"

#include <hiredis/async.h>

namespace upcheck::fleet {
namespace {

// One per connection; freed in the poll handle's close callback, after hiredis let go.
struct Watcher {
  redisAsyncContext* context = nullptr;  // null once hiredis has cleaned up
  uv_poll_t handle{};
  int events = 0;
};

void OnPoll(uv_poll_t* handle, int status, int events) {
  auto* w = static_cast<Watcher*>(handle->data);
  // On an error libuv has stopped the handle: let hiredis try what it waited for, so it
  // meets the socket's error and fails the connection.
  const int ready = status != 0 ? w->events : events;
  if (w->context != nullptr && (ready & UV_READABLE) != 0) redisAsyncHandleRead(w->context);
  if (w->context != nullptr && (ready & UV_WRITABLE) != 0) redisAsyncHandleWrite(w->context);
}

void Update(Watcher* w, int events) {
  w->events = events;
  if (events != 0) {
    uv_poll_start(&w->handle, events, OnPoll);
  } else {
    uv_poll_stop(&w->handle);
  }
}

void AddRead(void* data) {
  auto* w = static_cast<Watcher*>(data);
  Update(w, w->events | UV_READABLE);
}
void DelRead(void* data) {
  auto* w = static_cast<Watcher*>(data);
  Update(w, w->events & ~UV_READABLE);
}
void AddWrite(void* data) {
  auto* w = static_cast<Watcher*>(data);
  Update(w, w->events | UV_WRITABLE);
}
void DelWrite(void* data) {
  auto* w = static_cast<Watcher*>(data);
  Update(w, w->events & ~UV_WRITABLE);
}

void Cleanup(void* data) {
  auto* w = static_cast<Watcher*>(data);
  w->context = nullptr;  // hiredis is freeing it
  uv_close(reinterpret_cast<uv_handle_t*>(&w->handle),
           [](uv_handle_t* h) { delete static_cast<Watcher*>(h->data); });
}

}  // namespace

bool AttachToLoop(redisAsyncContext* ac, uv_loop_t* loop) {
  if (ac->ev.data != nullptr) return false;
  auto* w = new Watcher;
  if (uv_poll_init(loop, &w->handle, ac->c.fd) != 0) {
    delete w;  // never initialised: nothing to close
    return false;
  }
  w->handle.data = w;
  w->context = ac;
  ac->ev.data = w;
  ac->ev.addRead = AddRead;
  ac->ev.delRead = DelRead;
  ac->ev.addWrite = AddWrite;
  ac->ev.delWrite = DelWrite;
  ac->ev.cleanup = Cleanup;
  return true;
}

}  // namespace upcheck::fleet
