#include "status_server.h"

#include <unistd.h>

#include <algorithm>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "http_request.h"
#include "upcheck/internal/status_details.h"
#include "upcheck/status_pages.h"

namespace upcheck {
namespace {

std::string_view Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    default:
      return "Unknown";
  }
}

}  // namespace

// One accepted client. Freed in the close callback of its last handle.
class StatusConnection {
 public:
  explicit StatusConnection(StatusServer::Impl* server) : server_(server) {
    tcp_.data = this;
    timer_.data = this;
    write_req_.data = this;
    shutdown_req_.data = this;
  }

  // REQUIRES: tcp_ initialised and accepted; the server counted this connection.
  void Begin(uint64_t timeout_ms);
  void Close();
  uv_tcp_t* tcp() { return &tcp_; }

 private:
  enum class Phase : uint8_t { kReading, kWriting, kLingering, kClosing };

  static void OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnTimer(uv_timer_t* timer);
  static void OnWrite(uv_write_t* req, int status);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnClose(uv_handle_t* handle);

  void Consume(std::string_view bytes);
  void Answer(const RequestHead& request);
  void Respond(int status, std::string_view content_type, std::string body, bool head_only,
               std::string_view extra_header = {});

  StatusServer::Impl* server_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_write_t write_req_;
  uv_shutdown_t shutdown_req_;
  Phase phase_ = Phase::kReading;
  bool timer_initialized_ = false;
  int open_handles_ = 0;
  std::string head_;  // the request's head; then the response's status line and headers
  std::string body_;  // the response's body, a buffer of the server's (see TakeBuffer)
  char buffer_[4096];
};

class StatusServer::Impl {
 public:
  Impl(uv_loop_t* loop, Handler handler, StatusServerOptions options)
      : loop_(loop), handler_(std::move(handler)), options_(options) {
    listener_.data = this;
  }

  Status Listen(int fd);
  void Close();
  size_t connection_count() const { return connections_.size(); }

  const Handler& handler() const { return handler_; }
  const StatusServerOptions& options() const { return options_; }
  uv_loop_t* loop() const { return loop_; }
  // A connection's last handle closed.
  void Forget(StatusConnection* connection) { connections_.erase(connection); }
  // Response bodies are rendered into buffers that outlive their connection: the next
  // answer reuses one, so a page of megabytes costs no allocation and no page faults.
  std::string TakeBuffer() {
    if (spare_.empty()) return {};
    std::string buffer = std::move(spare_.back());
    spare_.pop_back();
    buffer.clear();
    return buffer;
  }
  // A connection returns its body when the answer is out and again (moved-from, without
  // heap storage) when it closes: only buffers with storage of their own are kept.
  void ReturnBuffer(std::string buffer) {
    if (buffer.capacity() <= std::string().capacity()) return;
    if (buffer.capacity() > kMaxSpareBytes || spare_.size() >= kMaxSpare) return;
    spare_.push_back(std::move(buffer));
  }
  // Frees this object once the listener and every connection are closed.
  void MaybeFree() {
    if (listener_closed_ && connections_.empty()) delete this;
  }

 private:
  static void OnConnection(uv_stream_t* listener, int status);
  static void OnListenerClosed(uv_handle_t* handle);

  uv_loop_t* loop_;
  Handler handler_;
  StatusServerOptions options_;
  uv_tcp_t listener_;
  bool closing_ = false;
  bool listener_closed_ = false;
  std::unordered_set<StatusConnection*> connections_;
  static constexpr size_t kMaxSpare = 2;  // answers rendered at once, in the common case
  static constexpr size_t kMaxSpareBytes = size_t{64} << 20;
  std::vector<std::string> spare_;
};

Status StatusServer::Impl::Listen(int fd) {
  int rc = uv_tcp_init(loop_, &listener_);
  if (rc != 0) {
    ::close(fd);
    listener_closed_ = true;
    return Status::Error("cannot accept on descriptor " + std::to_string(fd) + ": " +
                         uv_strerror(rc));
  }
  rc = uv_tcp_open(&listener_, fd);
  if (rc != 0) ::close(fd);  // the handle does not own it
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 511, OnConnection);
  if (rc != 0) {
    Close();
    return Status::Error("cannot accept on descriptor " + std::to_string(fd) + ": " +
                         uv_strerror(rc));
  }
  return Status::Ok();
}

void StatusServer::Impl::Close() {
  if (closing_) return;
  closing_ = true;
  // Close() on a connection only starts closing; the set changes in close callbacks.
  for (StatusConnection* connection : connections_) connection->Close();
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), OnListenerClosed);
}

void StatusServer::Impl::OnListenerClosed(uv_handle_t* handle) {
  auto* self = static_cast<Impl*>(handle->data);
  self->listener_closed_ = true;
  self->MaybeFree();
}

void StatusServer::Impl::OnConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<Impl*>(listener->data);
  if (status != 0 || self->closing_) return;
  auto* connection = new StatusConnection(self);
  self->connections_.insert(connection);
  uv_tcp_init(self->loop_, connection->tcp());
  const bool accepted = uv_accept(listener, reinterpret_cast<uv_stream_t*>(connection->tcp())) == 0;
  // Over the limit: the new client is closed at once, without an answer.
  if (!accepted || self->connections_.size() > self->options_.max_connections) {
    connection->Close();
    return;
  }
  connection->Begin(self->options_.request_timeout_ms);
}

void StatusConnection::Begin(uint64_t timeout_ms) {
  uv_timer_init(server_->loop(), &timer_);
  timer_initialized_ = true;
  uv_timer_start(&timer_, OnTimer, timeout_ms, 0);
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead) != 0) Close();
}

void StatusConnection::Close() {
  if (phase_ == Phase::kClosing) return;
  phase_ = Phase::kClosing;
  // tcp_ is initialised before anything can close it; the timer only in Begin().
  open_handles_ = timer_initialized_ ? 2 : 1;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClose);
  if (timer_initialized_) uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnClose);
}

void StatusConnection::OnClose(uv_handle_t* handle) {
  auto* self = static_cast<StatusConnection*>(handle->data);
  if (--self->open_handles_ > 0) return;
  StatusServer::Impl* server = self->server_;
  server->ReturnBuffer(std::move(self->body_));
  server->Forget(self);
  delete self;
  server->MaybeFree();
}

void StatusConnection::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<StatusConnection*>(handle->data);
  *buf = uv_buf_init(self->buffer_, sizeof(self->buffer_));
}

void StatusConnection::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<StatusConnection*>(stream->data);
  if (nread == 0 || self->phase_ == Phase::kClosing) return;
  if (nread < 0) {  // EOF or error: nothing more to read, nobody left to answer
    self->Close();
    return;
  }
  if (self->phase_ == Phase::kReading) {
    self->Consume(std::string_view(buf->base, static_cast<size_t>(nread)));
  }
  // kLingering: the answer went out; what the client still sends is discarded.
}

void StatusConnection::Consume(std::string_view bytes) {
  const size_t limit = server_->options().max_request_bytes;
  const size_t old_size = head_.size();
  head_.append(bytes.substr(0, limit + 4 - std::min(limit + 4, old_size)));
  RequestHead request = ParseRequestHead(head_, limit, old_size >= 3 ? old_size - 3 : 0);
  if (request.complete) Answer(request);
}

void StatusConnection::Answer(const RequestHead& request) {
  switch (request.error_status) {
    case 0:
      break;
    case 431:
      Respond(431, "text/plain", "request header fields too large\n", false);
      return;
    case 405:
      Respond(405, "text/plain", "method not allowed\n", false, "Allow: GET, HEAD\r\n");
      return;
    default:
      Respond(400, "text/plain", "bad request\n", false);
      return;
  }
  std::string content_type = "text/plain";
  int status = 200;
  std::string body = server_->TakeBuffer();
  server_->handler()(request.path, &content_type, &status, &body);
  Respond(status, content_type, std::move(body), request.head_only);
}

void StatusConnection::Respond(int status, std::string_view content_type, std::string body,
                               bool head_only, std::string_view extra_header) {
  phase_ = Phase::kWriting;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  body_ = std::move(body);
  head_.clear();
  head_.append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
  head_.append(Reason(status)).append("\r\nContent-Type: ").append(content_type);
  head_.append("\r\nContent-Length: ").append(std::to_string(body_.size()));
  head_.append("\r\nConnection: close\r\nX-Worker-Pid: ").append(std::to_string(getpid()));
  head_.append("\r\n").append(extra_header).append("\r\n");
  // The client gets the same time again to take the answer.
  uv_timer_start(&timer_, OnTimer, server_->options().request_timeout_ms, 0);
  // Head and body in one writev, the body from the buffer it was rendered into.
  uv_buf_t bufs[2] = {uv_buf_init(head_.data(), static_cast<unsigned>(head_.size())),
                      uv_buf_init(body_.data(), static_cast<unsigned>(body_.size()))};
  unsigned count = head_only || body_.empty() ? 1 : 2;
  if (uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), bufs, count, OnWrite) != 0) {
    Close();
  }
}

void StatusConnection::OnWrite(uv_write_t* req, int status) {
  auto* self = static_cast<StatusConnection*>(req->data);
  if (self->phase_ == Phase::kClosing) return;  // cancelled by Close()
  if (status != 0 || uv_shutdown(&self->shutdown_req_, reinterpret_cast<uv_stream_t*>(&self->tcp_),
                                 OnShutdown) != 0) {
    self->Close();
  }
}

// Lingering close, as nginx does: after our FIN, read and drop what the client still sends
// until its EOF (or the timer), so that unread bytes do not turn our close into a reset
// that could destroy the answer before the client read it (the 431 case).
void StatusConnection::OnShutdown(uv_shutdown_t* req, int status) {
  auto* self = static_cast<StatusConnection*>(req->data);
  if (self->phase_ == Phase::kClosing) return;
  self->head_.clear();
  self->head_.shrink_to_fit();
  self->server_->ReturnBuffer(std::move(self->body_));
  if (status != 0) {
    self->Close();
    return;
  }
  self->phase_ = Phase::kLingering;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_), OnAlloc, OnRead) != 0) {
    self->Close();
  }
}

void StatusConnection::OnTimer(uv_timer_t* timer) {
  auto* self = static_cast<StatusConnection*>(timer->data);
  if (self->phase_ == Phase::kReading) {
    self->Respond(408, "text/plain", "request timeout\n", false);
  } else {
    self->Close();
  }
}

StatusServer::StatusServer(Impl* impl) : impl_(impl) {}

StatusServer::~StatusServer() { Close(); }

Result<std::unique_ptr<StatusServer>> StatusServer::Start(uv_loop_t* loop, int listen_fd,
                                                          Handler handler,
                                                          StatusServerOptions options) {
  if (!handler) {
    ::close(listen_fd);
    return Result<std::unique_ptr<StatusServer>>::Error("no request handler");
  }
  auto* impl = new Impl(loop, std::move(handler), options);
  if (Status st = impl->Listen(listen_fd); !st.ok()) return st;  // impl frees itself
  return std::unique_ptr<StatusServer>(new StatusServer(impl));
}

void StatusServer::Close() {
  if (impl_ == nullptr) return;
  impl_->Close();
  impl_ = nullptr;
}

size_t StatusServer::connection_count() const {
  return impl_ == nullptr ? 0 : impl_->connection_count();
}

StatusRenderer MakeStatusHandler(Upstreams* view, const Registry* registry, SharedDict* dict,
                                 std::function<void()> before_render) {
  return [view, registry, dict, before_render = std::move(before_render)](
             std::string_view path, std::string* content_type, int* status, std::string* body) {
    if (before_render) before_render();
    if (path == "/status") {
      *content_type = "text/plain";
      AppendStatusPage(*body, *view);
      return;
    }
    if (path == "/metrics") {
      if (Status page = AppendPrometheusStatusPage(*body, *view); !page.ok()) {
        *status = 500;
        body->assign(page.message()).push_back('\n');
        return;
      }
      *content_type = "text/plain; version=0.0.4";
      AppendUpcheckMetrics(*body, *view, registry);
      return;
    }
    if (path == "/status.json") {
      *content_type = "application/json";
      AppendStatusJson(*body, *view, registry, dict, static_cast<int>(getpid()));
      return;
    }
    *status = 404;
    body->assign("not found\n");
  };
}

}  // namespace upcheck
