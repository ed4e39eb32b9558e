#include "balancer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>

namespace upcheck {
namespace {

constexpr size_t kReadChunk = size_t{64} * 1024;

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

template <typename T>
uv_handle_t* AsHandle(T* handle) {
  return reinterpret_cast<uv_handle_t*>(handle);
}
template <typename T>
uv_stream_t* AsStream(T* handle) {
  return reinterpret_cast<uv_stream_t*>(handle);
}

}  // namespace

class BalancerSession;

class Balancer::Impl {
 public:
  Impl(uv_loop_t* loop, Upstreams* view, std::string upstream, const Logger* logger,
       BalancerOptions options)
      : loop_(loop),
        view_(view),
        upstream_(std::move(upstream)),
        logger_(logger),
        options_(std::move(options)) {
    listener_.data = this;
    if (options_.pick.slow_start_ms > 0 || options_.pick.panic_threshold > 0) {
      picker_.emplace(options_.pick);
      for (size_t i = 0; i < view_->upstream_count(); ++i) {
        if (view_->upstream_name(i) == upstream_) view_index_ = i;
      }
      if (options_.registry != nullptr) {
        registry_index_ = options_.registry->FindUpstream(upstream_);
      }
    }
  }

  Status Listen(int fd);
  void Close();
  void Drain(std::function<void()> on_idle);
  BalancerStats stats() const {
    BalancerStats s = stats_;
    s.active = sessions_.size();
    return s;
  }

  uv_loop_t* loop() const { return loop_; }
  const std::string& upstream() const { return upstream_; }
  const BalancerOptions& options() const { return options_; }
  BalancerStats& mutable_stats() { return stats_; }
  void Warn(const std::string& message) const {
    if (logger_ != nullptr) logger_->Warn(message);
  }
  void Forget(BalancerSession* session) { sessions_.erase(session); }
  void ReportPassive(const PeerInfo& peer, PassiveResult result) const {
    if (options_.on_passive) options_.on_passive(peer, result);
  }
  // Once the listener and every session are closed: frees this object after Close(), or
  // tells a Drain() caller, who still owns it.
  void MaybeFree() {
    if (!listener_closed_ || !sessions_.empty()) return;
    if (closing_) {
      delete this;
    } else if (on_idle_) {
      std::function<void()> on_idle = std::move(on_idle_);
      on_idle_ = nullptr;
      on_idle();  // may Close() and so free this object: nothing of it is used after
    }
  }

 private:
  std::optional<PeerInfo> Pick();
  void NotePanic();
  static void OnConnection(uv_stream_t* listener, int status);
  static void OnListenerClosed(uv_handle_t* handle);

  uv_loop_t* loop_;
  Upstreams* view_;
  std::string upstream_;
  const Logger* logger_;
  BalancerOptions options_;
  uv_tcp_t listener_;
  bool closing_ = false;
  bool listener_closing_ = false;
  bool listener_closed_ = false;
  std::function<void()> on_idle_;
  BalancerStats stats_;
  std::unordered_set<BalancerSession*> sessions_;
  std::optional<BalancerPick> picker_;  // only with slow_start or panic_threshold
  std::optional<size_t> view_index_, registry_index_;
  bool panic_ = false;  // without a registry: this balancer's own panic state
};

// One client and its peer. Freed in the close callback of its last handle.
class BalancerSession {
 public:
  explicit BalancerSession(Balancer::Impl* server) : server_(server) {
    client_.data = this;
    peer_tcp_.data = this;
    peer_pipe_.data = this;
    timer_.data = this;
    connect_req_.data = this;
    up_.from = AsStream(&client_);
    down_.to = AsStream(&client_);
    up_.shutdown_req.data = &up_;
    down_.shutdown_req.data = &down_;
    up_.session = down_.session = this;
  }

  uv_tcp_t* client() { return &client_; }
  // REQUIRES: client() accepted. Starts connecting to `peer`; closes on failure.
  void Connect(PeerInfo peer);
  void Close();

 private:
  // One direction of the relay: bytes read from `from` are written to `to`.
  struct Direction {
    BalancerSession* session = nullptr;
    uv_stream_t* from = nullptr;
    uv_stream_t* to = nullptr;
    size_t queued = 0;  // bytes handed to uv_write and not yet written
    bool paused = false;
    bool eof = false;   // `from` sent EOF
    bool done = false;  // `to` was shut down after the EOF
    uv_shutdown_t shutdown_req;
  };
  struct WriteReq {
    uv_write_t req;
    Direction* direction;
    char* data;
    size_t size;
  };

  static void OnConnect(uv_connect_t* req, int status);
  static void OnConnectTimeout(uv_timer_t* timer);
  static void OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnClose(uv_handle_t* handle);

  Direction& DirectionFrom(uv_stream_t* stream) {
    return stream == AsStream(&client_) ? up_ : down_;
  }
  void ConnectFailed(const std::string& why, PassiveResult result);
  // The connection's one passive outcome: the first reported wins.
  void Report(PassiveResult result) {
    if (reported_) return;
    reported_ = true;
    server_->ReportPassive(peer_, result);
  }
  void StartReading(Direction& d);
  void Relay(Direction& d, char* data, size_t size);
  void EndOfStream(Direction& d);

  Balancer::Impl* server_;
  PeerInfo peer_;
  uv_tcp_t client_;
  uv_tcp_t peer_tcp_;                   // IP peers
  uv_pipe_t peer_pipe_;                 // unix peers
  uv_handle_t* peer_handle_ = nullptr;  // whichever of the two was initialised
  uv_timer_t timer_;
  bool timer_initialized_ = false;
  uv_connect_t connect_req_;
  Direction up_;    // client -> peer
  Direction down_;  // peer -> client
  bool closing_ = false;
  bool reported_ = false;
  int open_handles_ = 0;
};

void BalancerSession::Connect(PeerInfo peer) {
  peer_ = std::move(peer);
  uv_loop_t* loop = server_->loop();
  uv_timer_init(loop, &timer_);
  timer_initialized_ = true;
  int rc = 0;
  if (peer_.address.family == PeerAddress::Family::kUnix) {
    uv_pipe_init(loop, &peer_pipe_, 0);
    peer_handle_ = AsHandle(&peer_pipe_);
    uv_pipe_connect(&connect_req_, &peer_pipe_, peer_.address.host.c_str(), OnConnect);
  } else {
    uv_tcp_init(loop, &peer_tcp_);
    peer_handle_ = AsHandle(&peer_tcp_);
    sockaddr_storage addr{};
    if (peer_.address.family == PeerAddress::Family::kIpv4) {
      rc = uv_ip4_addr(peer_.address.host.c_str(), peer_.address.port,
                       reinterpret_cast<sockaddr_in*>(&addr));
    } else {
      rc = uv_ip6_addr(peer_.address.host.c_str(), peer_.address.port,
                       reinterpret_cast<sockaddr_in6*>(&addr));
    }
    if (rc == 0) {
      rc = uv_tcp_connect(&connect_req_, &peer_tcp_, reinterpret_cast<sockaddr*>(&addr), OnConnect);
    }
  }
  up_.to = AsStream(peer_handle_);
  down_.from = AsStream(peer_handle_);
  if (rc != 0) {  // the callback will not run
    ConnectFailed(uv_strerror(rc), PassiveResult::kConnectFailed);
    return;
  }
  uv_timer_start(&timer_, OnConnectTimeout, server_->options().connect_timeout_ms, 0);
}

void BalancerSession::ConnectFailed(const std::string& why, PassiveResult result) {
  ++server_->mutable_stats().connect_failures;
  Report(result);
  server_->Warn("balancer: failed to connect to peer " + peer_.name + " of upstream \"" +
                server_->upstream() + "\": " + why);
  Close();
}

void BalancerSession::OnConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<BalancerSession*>(req->data);
  if (self->closing_) return;  // cancelled by Close() or the timeout
  uv_timer_stop(&self->timer_);
  if (status != 0) {
    self->ConnectFailed(uv_strerror(status), PassiveResult::kConnectFailed);
    return;
  }
  if (self->peer_handle_ == AsHandle(&self->peer_tcp_)) uv_tcp_nodelay(&self->peer_tcp_, 1);
  uv_tcp_nodelay(&self->client_, 1);
  self->StartReading(self->up_);
  if (!self->closing_) self->StartReading(self->down_);
}

void BalancerSession::OnConnectTimeout(uv_timer_t* timer) {
  static_cast<BalancerSession*>(timer->data)
      ->ConnectFailed("timed out", PassiveResult::kConnectTimeout);
}

void BalancerSession::StartReading(Direction& d) {
  d.paused = false;
  if (uv_read_start(d.from, OnAlloc, OnRead) != 0) Close();
}

void BalancerSession::OnAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  buf->base = new char[kReadChunk];
  buf->len = kReadChunk;
}

void BalancerSession::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<BalancerSession*>(stream->data);
  Direction& d = self->DirectionFrom(stream);
  if (&d == &self->down_ && !self->closing_) {
    if (nread > 0 || nread == UV_EOF) self->Report(PassiveResult::kOk);
    if (nread == UV_ECONNRESET) self->Report(PassiveResult::kReset);
  }
  if (nread > 0 && !self->closing_) {
    self->Relay(d, buf->base, static_cast<size_t>(nread));  // takes the buffer
    return;
  }
  delete[] buf->base;
  if (nread == UV_EOF && !self->closing_) {
    self->EndOfStream(d);
  } else if (nread < 0) {
    self->Close();
  }
}

void BalancerSession::Relay(Direction& d, char* data, size_t size) {
  auto* w = new WriteReq{{}, &d, data, size};
  w->req.data = w;
  uv_buf_t buf = uv_buf_init(data, static_cast<unsigned>(size));
  if (uv_write(&w->req, d.to, &buf, 1, OnWrite) != 0) {
    delete[] data;
    delete w;
    Close();
    return;
  }
  d.queued += size;
  BalancerStats& stats = server_->mutable_stats();
  stats.peak_queued_bytes = std::max(stats.peak_queued_bytes, d.queued);
  if (d.queued > server_->options().max_queued_bytes && !d.paused) {
    uv_read_stop(d.from);
    d.paused = true;
    ++stats.read_pauses;
  }
}

void BalancerSession::OnWrite(uv_write_t* req, int status) {
  auto* w = static_cast<WriteReq*>(req->data);
  Direction& d = *w->direction;
  BalancerSession* self = d.session;
  d.queued -= w->size;
  delete[] w->data;
  delete w;
  if (self->closing_) return;  // cancelled by Close()
  if (status != 0) {
    const bool reset = status == UV_ECONNRESET || status == UV_EPIPE;
    if (&d == &self->up_ && reset) self->Report(PassiveResult::kReset);
    self->Close();
    return;
  }
  // Resume once half drained, so that reading does not flap at the limit.
  if (d.paused && !d.eof && d.queued <= self->server_->options().max_queued_bytes / 2) {
    self->StartReading(d);
  }
}

void BalancerSession::EndOfStream(Direction& d) {
  d.eof = true;
  uv_read_stop(d.from);
  // uv_shutdown waits for the queued writes, then sends FIN.
  if (uv_shutdown(&d.shutdown_req, d.to, OnShutdown) != 0) Close();
}

void BalancerSession::OnShutdown(uv_shutdown_t* req, int status) {
  auto* d = static_cast<Direction*>(req->data);
  BalancerSession* self = d->session;
  if (self->closing_) return;
  d->done = true;
  if (status != 0 || (self->up_.done && self->down_.done)) self->Close();
}

void BalancerSession::Close() {
  if (closing_) return;
  closing_ = true;
  open_handles_ = 1 + (peer_handle_ != nullptr) + timer_initialized_;
  uv_close(AsHandle(&client_), OnClose);
  if (peer_handle_ != nullptr) uv_close(peer_handle_, OnClose);
  if (timer_initialized_) uv_close(AsHandle(&timer_), OnClose);
}

void BalancerSession::OnClose(uv_handle_t* handle) {
  auto* self = static_cast<BalancerSession*>(handle->data);
  if (--self->open_handles_ > 0) return;
  Balancer::Impl* server = self->server_;
  server->Forget(self);
  delete self;
  server->MaybeFree();
}

Status Balancer::Impl::Listen(int fd) {
  int rc = uv_tcp_init(loop_, &listener_);
  if (rc != 0) {
    ::close(fd);
    listener_closed_ = true;
    return Status::Error("cannot accept on descriptor " + std::to_string(fd) + ": " +
                         uv_strerror(rc));
  }
  rc = uv_tcp_open(&listener_, fd);
  if (rc != 0) ::close(fd);  // the handle does not own it
  if (rc == 0) rc = uv_listen(AsStream(&listener_), 511, OnConnection);
  if (rc != 0) {
    Close();
    return Status::Error("cannot accept on descriptor " + std::to_string(fd) + ": " +
                         uv_strerror(rc));
  }
  return Status::Ok();
}

void Balancer::Impl::Close() {
  if (closing_) return;
  closing_ = true;
  on_idle_ = nullptr;
  for (BalancerSession* session : sessions_) session->Close();
  if (!listener_closing_) {
    listener_closing_ = true;
    uv_close(AsHandle(&listener_), OnListenerClosed);
  } else {
    MaybeFree();  // a drain that already ended
  }
}

void Balancer::Impl::Drain(std::function<void()> on_idle) {
  if (closing_ || listener_closing_) return;
  listener_closing_ = true;
  on_idle_ = std::move(on_idle);
  uv_close(AsHandle(&listener_), OnListenerClosed);
}

void Balancer::Impl::OnListenerClosed(uv_handle_t* handle) {
  auto* self = static_cast<Impl*>(handle->data);
  self->listener_closed_ = true;
  self->MaybeFree();
}

std::optional<PeerInfo> Balancer::Impl::Pick() {
  if (!picker_ || !view_index_) return view_->Pick(upstream_);
  view_->RunBeforeReadHook();  // as Upstreams::Pick(): the shared version first
  auto last_change = [this](bool backup, uint32_t id) -> int64_t {
    if (options_.registry == nullptr || !registry_index_) return 0;
    return options_.registry->last_change_ms(*registry_index_, backup, id);
  };
  const PeerInfo* peer = picker_->Next(view_->primary_peers(*view_index_),
                                       view_->backup_peers(*view_index_), last_change, UnixMs());
  if (options_.pick.panic_threshold > 0) NotePanic();
  return peer == nullptr ? std::nullopt : std::optional<PeerInfo>(*peer);
}

// Logs each change of the panic state once across the workers: the registry's swap tells
// the one balancer that made it.
void Balancer::Impl::NotePanic() {
  const bool panic = picker_->panic();
  bool changed = panic != panic_;
  panic_ = panic;
  if (options_.registry != nullptr && registry_index_) {
    changed = options_.registry->SetPanic(*registry_index_, panic);
  }
  if (!changed || logger_ == nullptr) return;
  const PrimaryHealth h = picker_->health();
  const std::string counts = std::to_string(h.up) + "/" + std::to_string(h.eligible);
  if (panic) {
    logger_->Warn("upstream \"" + upstream_ + "\" in panic: " + counts +
                  " primaries up, below panic_threshold " +
                  std::to_string(options_.pick.panic_threshold) + "%, picking among all primaries");
  } else {
    logger_->Notice("upstream \"" + upstream_ + "\" left panic: " + counts + " primaries up");
  }
}

void Balancer::Impl::OnConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<Impl*>(listener->data);
  if (status != 0 || self->closing_) return;
  auto* session = new BalancerSession(self);
  self->sessions_.insert(session);
  uv_tcp_init(self->loop_, session->client());
  if (uv_accept(listener, AsStream(session->client())) != 0) {
    session->Close();
    return;
  }
  ++self->stats_.accepted;
  std::optional<PeerInfo> peer;
  if (self->sessions_.size() <= self->options_.max_connections) {
    peer = self->Pick();
    if (!peer) self->Warn("balancer: no live peers in upstream \"" + self->upstream_ + "\"");
  }
  if (!peer) {  // refused: closed at once, nothing read
    ++self->stats_.refused;
    session->Close();
    return;
  }
  session->Connect(std::move(*peer));
}

Balancer::Balancer(Impl* impl) : impl_(impl) {}

Balancer::~Balancer() { Close(); }

Result<std::unique_ptr<Balancer>> Balancer::Start(uv_loop_t* loop, int listen_fd, Upstreams* view,
                                                  std::string upstream, const Logger* logger,
                                                  BalancerOptions options) {
  if (view == nullptr) {
    ::close(listen_fd);
    return Result<std::unique_ptr<Balancer>>::Error("no upstreams view");
  }
  auto* impl = new Impl(loop, view, std::move(upstream), logger, std::move(options));
  if (Status st = impl->Listen(listen_fd); !st.ok()) return st;  // impl frees itself
  return std::unique_ptr<Balancer>(new Balancer(impl));
}

void Balancer::Close() {
  if (impl_ == nullptr) return;
  impl_->Close();
  impl_ = nullptr;
}

void Balancer::Drain(std::function<void()> on_idle) {
  if (impl_ != nullptr) impl_->Drain(std::move(on_idle));
}

BalancerStats Balancer::stats() const {
  return impl_ == nullptr ? BalancerStats{} : impl_->stats();
}

}  // namespace upcheck
