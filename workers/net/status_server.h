// StatusServer: the worker's HTTP status listener, on a libuv loop that the caller owns.
//
// Every worker accepts on the same listening socket (opened by the master before fork) and
// answers one request per connection: GET or HEAD, HTTP/1.1, Content-Length,
// `Connection: close` and `X-Worker-Pid`. Which path gives what is the handler's business
// (MakeStatusHandler() gives upcheckd's routes), so the server stays generic. Everything is
// asynchronous and bounded: a head over max_request_bytes gets 431, no complete head within
// request_timeout_ms gets 408, a client that does not take its answer within the same time
// is dropped, and connections over max_connections are closed at once. Request bytes are
// never logged. Loop thread only; not copyable.
#ifndef UPCHECK_WORKERS_NET_STATUS_SERVER_H_
#define UPCHECK_WORKERS_NET_STATUS_SERVER_H_

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "upcheck/internal/registry.h"
#include "upcheck/shared_dict.h"
#include "upcheck/status.h"
#include "upcheck/upstreams.h"

namespace upcheck {

struct StatusServerOptions {
  size_t max_request_bytes = 8192;     // request line + headers
  uint64_t request_timeout_ms = 5000;  // to receive the head; again to send the answer
  size_t max_connections = 256;        // open at once, lingering ones included
};

// Renders the body for `path` (no query string) into *body. *content_type arrives as
// "text/plain", *status as 200 and *body empty, but with the capacity of an earlier answer
// (the server reuses its buffers: a multi-megabyte page costs no fresh allocation and no
// page faults); the handler changes them as it needs. Called on the loop thread, for GET
// and HEAD alike (HEAD sends the headers only). It must not throw.
using StatusRenderer = std::function<void(std::string_view path, std::string* content_type,
                                          int* status, std::string* body)>;
using StatusHandler = StatusRenderer;

class StatusServer {
 public:
  using Handler = StatusRenderer;

  // Starts accepting on `listen_fd`, an already bound and listening TCP socket
  // (uv_tcp_open + uv_listen). The server takes ownership of the descriptor whatever the
  // outcome: Close() closes it, and so does a failed Start().
  static Result<std::unique_ptr<StatusServer>> Start(uv_loop_t* loop, int listen_fd,
                                                     Handler handler,
                                                     StatusServerOptions options = {});

  // Close()s; the handles are freed in their close callbacks, so run the loop afterwards
  // until it has nothing left.
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Stops accepting and closes every connection (answers in flight are dropped).
  // Idempotent.
  void Close();

  // Connections open right now (for tests and the daemon's own diagnostics).
  size_t connection_count() const;

  class Impl;

 private:
  explicit StatusServer(Impl* impl);
  Impl* impl_;  // owned until Close(); then frees itself once its handles are closed
};

// upcheckd's routes over this worker's view:
//   /status       the original status_page() text              text/plain
//   /metrics      prometheus_status_page() + UpcheckMetrics()   text/plain; version=0.0.4
//   /status.json  StatusJson()                                  application/json
//   anything else 404 "not found\n"
// `before_render` (optional) runs first on every request, e.g. to sync the view from shm;
// registry and dict may be nullptr (see status_details.h). The pointers must outlive the
// handler. A failing PrometheusStatusPage() gives 500 with its message.
StatusRenderer MakeStatusHandler(Upstreams* view, const Registry* registry, SharedDict* dict,
                                 std::function<void()> before_render);

}  // namespace upcheck

#endif  // UPCHECK_WORKERS_NET_STATUS_SERVER_H_
