// AttachToLoop: drives a hiredis async context from a libuv loop, as hiredis's own
// adapters/libuv.h does, except that a poll error (libuv reports POLLERR as UV_EBADF and
// stops the handle; 0.14's adapter drops it) is passed on to hiredis, which then reads the
// socket's error: a refused connect fails at once instead of at the command's deadline.
// Commands queued between HoldWrites and FlushWrites leave in one write(2) at the flush,
// without a poll for writability first: a connected socket nearly always has room.
// The loop's thread only; the watcher is closed and freed by hiredis's cleanup hook.
#ifndef UPCHECK_FLEET_REDIS_UV_EVENTS_H_
#define UPCHECK_FLEET_REDIS_UV_EVENTS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_FLEET)
#error "fleet/redis_uv_events.h belongs to fleet/, a layer above (see lib/meson.build)"
#endif

#include <uv.h>

struct redisAsyncContext;

namespace upcheck::fleet {

// Returns false (and leaves `ac` unattached) when it is attached already or libuv cannot
// watch its socket.
bool AttachToLoop(redisAsyncContext* ac, uv_loop_t* loop);

// On an attached context. HoldWrites does nothing while it is still connecting (hiredis
// polls for the connect's end); FlushWrites may free the context through hiredis.
void HoldWrites(redisAsyncContext* ac);
void FlushWrites(redisAsyncContext* ac);

}  // namespace upcheck::fleet

#endif  // UPCHECK_FLEET_REDIS_UV_EVENTS_H_
