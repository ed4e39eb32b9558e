#include "fleet/redis_uv_events.h"

#include <hiredis/async.h>

#include <utility>

namespace upcheck::fleet {
namespace {

// One per connection; freed in the poll handle's close callback, after hiredis let go.
struct Watcher {
  redisAsyncContext* context = nullptr;  // null once hiredis has cleaned up
  uv_poll_t handle{};
  int events = 0;             // what the handle polls for
  bool write_wanted = false;  // hiredis has output queued
  bool holding = false;       // between HoldWrites and FlushWrites: queue, do not poll
};

void OnPoll(uv_poll_t* handle, int status, int events) {
  auto* w = static_cast<Watcher*>(handle->data);
  // On an error libuv has stopped the handle: let hiredis try what it waited for, so it
  // meets the socket's error and fails the connection.
  const int ready = status != 0 ? w->events : events;
  if (w->context != nullptr && (ready & UV_READABLE) != 0) redisAsyncHandleRead(w->context);
  if (w->context != nullptr && (ready & UV_WRITABLE) != 0) redisAsyncHandleWrite(w->context);
}

// libuv's uv_poll_start costs an epoll_ctl each call, even for the same events: only a
// change is passed on (hiredis asks for reads after every write it makes).
void Update(Watcher* w, int events) {
  if (events == w->events) return;
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
  w->write_wanted = true;
  if (!w->holding) Update(w, w->events | UV_WRITABLE);
}
void DelWrite(void* data) {
  auto* w = static_cast<Watcher*>(data);
  w->write_wanted = false;
  Update(w, w->events & ~UV_WRITABLE);
}

void Cleanup(void* data) {
  auto* w = static_cast<Watcher*>(data);
  w->context = nullptr;  // hiredis is freeing it
  uv_close(reinterpret_cast<uv_handle_t*>(&w->handle),
           [](uv_handle_t* h) { delete static_cast<Watcher*>(h->data); });
}

}  // namespace

void HoldWrites(redisAsyncContext* ac) {
  if ((ac->c.flags & REDIS_CONNECTED) != 0) static_cast<Watcher*>(ac->ev.data)->holding = true;
}

void FlushWrites(redisAsyncContext* ac) {
  auto* w = static_cast<Watcher*>(ac->ev.data);
  if (!std::exchange(w->holding, false) || !w->write_wanted) return;
  // Writes what fits now; a short write makes hiredis ask for writability (AddWrite), an
  // error frees the context (and its callbacks fail).
  redisAsyncHandleWrite(ac);
}

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
