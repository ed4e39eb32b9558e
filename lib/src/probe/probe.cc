#include "probe/probe.h"

#include "probe/tls_context.h"
#include "probe/tls_options.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace upcheck {

namespace {

constexpr std::string_view kHandshakeFailed = "handshake failed";

}  // namespace

// ---- Life cycle -----------------------------------------------------------------------

void Probe::Start(const ProbeEnv& env, const ProbeTarget& target, ProbeCallback done,
                  ProbeList* list) {
  auto* probe = new Probe(env, target, std::move(done));
  list->Add(probe);
  probe->Begin();
}

Probe::Probe(const ProbeEnv& env, const ProbeTarget& target, ProbeCallback done)
    : env_(env), target_(&target), done_(std::move(done)) {}

Probe::~Probe() { SSL_free(ssl_); }

void Probe::Begin() {
  state_.Start();
  uv_timer_init(env_.loop, &timer_);  // cannot fail on Unix
  timer_.data = this;
  ++open_handles_;
  if (!OpenSocket()) {
    return;
  }
  StartStep(ProbeStep::kConnect);
  connect_req_.data = this;
  if (target_->kind == ProbeTarget::Kind::kUnix) {
    // Errors, synchronous ones included, arrive through OnConnect.
    uv_pipe_connect(&connect_req_, &socket_.pipe, target_->path.c_str(), OnConnect);
    return;
  }
  int rc = uv_tcp_connect(&connect_req_, &socket_.tcp,
                          reinterpret_cast<const sockaddr*>(&target_->address), OnConnect);
  if (rc < 0) {
    Fail(ProbeKind::kConnect, SocketErrorText(rc));
    return;
  }
  if (env_.options->scheme == ProbeScheme::kHttp) {
    // Reading is armed now, so that the socket enters epoll once for the connect and the
    // answer together; libuv delivers nothing before the connect completes.
    rc = uv_read_start(&socket_.stream, OnAlloc, OnRead);
    if (rc < 0) {
      Fail(ProbeKind::kConnect, SocketErrorText(rc));
    }
  }
}

// Creates the socket now, so that failing to (EMFILE...) is told apart from failing to
// connect, as the original's "failed to create stream socket" is.
bool Probe::OpenSocket() {
  int rc = 0;
  if (target_->kind == ProbeTarget::Kind::kTcp) {
    rc = uv_tcp_init_ex(env_.loop, &socket_.tcp, target_->address.ss_family);
    // On failure libuv has already unregistered the handle: it must not be closed.
  } else {
    uv_pipe_init(env_.loop, &socket_.pipe, 0);
    socket_.handle.data = this;
    socket_open_ = true;
    ++open_handles_;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    rc = fd < 0 ? -errno : uv_pipe_open(&socket_.pipe, fd);
    if (rc < 0 && fd >= 0) {
      close(fd);
    }
  }
  if (rc < 0) {
    Fail(ProbeKind::kSocket, SocketErrorText(rc));
    return false;
  }
  if (!socket_open_) {
    socket_open_ = true;
    ++open_handles_;
  }
  socket_.handle.data = this;
  return true;
}

void Probe::Abort() {
  if (list_ != nullptr) {
    list_->Remove(this);
  }
  aborted_ = true;
  done_ = nullptr;  // release what the callback holds now, not at close time
  if (state_.Abandon()) {
    Close();
  }
}

void Probe::Close() {
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnClose);
  if (socket_open_) {
    uv_close(&socket_.handle, OnClose);
  }
}

void Probe::OnClose(uv_handle_t* handle) {
  auto* probe = static_cast<Probe*>(handle->data);
  if (--probe->open_handles_ == 0) {
    probe->OnClosed();
  }
}

void Probe::OnClosed() {
  if (list_ != nullptr) {
    list_->Remove(this);
  }
  // The callback may start probes, shut the owner down or destroy it: leave first.
  ProbeCallback done = std::move(done_);
  ProbeResult result = state_.TakeResult();
  bool report = !aborted_;
  delete this;
  if (report && done) {
    done(std::move(result));
  }
}

// ---- Outcomes -------------------------------------------------------------------------

void Probe::Fail(ProbeKind kind, std::string error) {
  if (state_.Finish(kind, target_->name, std::move(error))) {
    Settle();
  }
}

// The outcome is recorded: the handles close, after a close_notify if an answer came (the
// connection itself is fine, whatever the verdict).
void Probe::Settle() {
  if (state_.answered()) {
    SendCloseNotify();
  }
  Close();
}

// Like nginx closing an SSL connection: a best-effort close_notify, without waiting.
void Probe::SendCloseNotify() {
  if (ssl_ == nullptr || writing_ || !SSL_is_init_finished(ssl_)) {
    return;
  }
  ERR_clear_error();
  SSL_shutdown(ssl_);
  char alert[256];
  int n = BIO_read(network_out_, alert, sizeof(alert));
  uv_os_fd_t fd = -1;
  if (n > 0 && peer_closed_ == 0 && uv_fileno(&socket_.handle, &fd) == 0) {
    // MSG_NOSIGNAL: the peer may have reset the connection already.
    (void)!send(fd, alert, static_cast<size_t>(n), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  ERR_clear_error();
}

void Probe::StartStep(ProbeStep step) {
  state_.Enter(step);
  uv_timer_start(&timer_, OnTimeout, env_.timeout_ms, 0);
}

void Probe::OnTimeout(uv_timer_t* timer) {
  auto* probe = static_cast<Probe*>(timer->data);
  if (probe->state_.TimeOut(probe->target_->name)) {
    probe->Settle();
  }
}

// ---- Connect, send --------------------------------------------------------------------

void Probe::OnConnect(uv_connect_t* req, int status) {
  auto* probe = static_cast<Probe*>(req->data);
  if (probe->state_.finished()) {
    return;  // UV_ECANCELED while closing
  }
  if (status < 0) {
    probe->Fail(ProbeKind::kConnect, SocketErrorText(status));
  } else if (UsesTls(probe->env_.options->scheme)) {
    probe->BeginHandshake();
  } else if (probe->env_.options->scheme == ProbeScheme::kTcp) {
    probe->Succeed();
  } else {
    probe->BeginSend();
  }
}

void Probe::BeginSend() {
  StartStep(ProbeStep::kSend);
  const std::string& request = env_.options->request;
  if (ssl_ != nullptr) {
    if (!request.empty()) {
      ERR_clear_error();
      // A memory BIO takes any amount, so the whole request is encrypted at once.
      if (SSL_write(ssl_, request.data(), static_cast<int>(request.size())) <= 0) {
        Fail(ProbeKind::kSend, "ssl write failed: " + TakeOpenSslError());
        return;
      }
    }
    if (FlushTls() && !writing_) {
      BeginReceive();
    }
    return;
  }
  // One write(2) from here, while the connect callback runs: the request is small and the
  // socket's buffer empty, so it is taken whole and the probe waits for the answer at
  // once (reading is armed since Begin()). What the socket does not take goes through
  // uv_write. The request is borrowed from the options: libuv stops touching it when the
  // handle is closed.
  uv_buf_t buf =
      uv_buf_init(const_cast<char*>(request.data()), static_cast<unsigned>(request.size()));
  int sent = request.empty() ? 0 : uv_try_write(&socket_.stream, &buf, 1);
  if (sent < 0 && sent != UV_EAGAIN) {
    Fail(ProbeKind::kSend, SocketErrorText(sent));
    return;
  }
  if (sent >= 0 && static_cast<size_t>(sent) == request.size()) {
    BeginReceive();
    return;
  }
  if (sent > 0) {
    buf = uv_buf_init(buf.base + sent, buf.len - static_cast<unsigned>(sent));
  }
  write_req_.data = this;
  writing_ = true;
  int rc = uv_write(&write_req_, &socket_.stream, &buf, 1, OnWrite);
  if (rc < 0) {
    writing_ = false;
    Fail(ProbeKind::kSend, SocketErrorText(rc));
  }
}

void Probe::OnWrite(uv_write_t* req, int status) {
  auto* probe = static_cast<Probe*>(req->data);
  probe->writing_ = false;
  if (probe->state_.finished()) {
    return;
  }
  if (status < 0) {
    switch (probe->state_.step()) {
      case ProbeStep::kHandshake:
        probe->Fail(ProbeKind::kTls, std::string(kHandshakeFailed));
        break;
      case ProbeStep::kReceive:
        probe->Fail(ProbeKind::kReceive, SocketErrorText(status));
        break;
      default:
        probe->Fail(ProbeKind::kSend, SocketErrorText(status));
        break;
    }
    return;
  }
  if (probe->ssl_ != nullptr) {
    probe->out_in_flight_.clear();
    if (!probe->out_pending_.empty()) {
      probe->SubmitWrite();
      return;
    }
  }
  if (probe->state_.step() == ProbeStep::kSend) {
    probe->BeginReceive();
  } else if (probe->state_.step() == ProbeStep::kHandshake && SSL_is_init_finished(probe->ssl_)) {
    probe->Succeed();  // a tls probe's last handshake flight is out
  }
}

// ---- Receive --------------------------------------------------------------------------

void Probe::BeginReceive() {
  StartStep(ProbeStep::kReceive);
  if (ssl_ != nullptr) {
    DrainTls();  // reading has been on since the handshake; bytes may be waiting
    return;
  }
  if (target_->kind == ProbeTarget::Kind::kTcp) {
    return;  // reading has been on since Begin()
  }
  int rc = uv_read_start(&socket_.stream, OnAlloc, OnRead);
  if (rc < 0) {
    Fail(ProbeKind::kReceive, SocketErrorText(rc));
  }
}

void Probe::OnAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  auto* probe = static_cast<Probe*>(handle->data);
  *buf = uv_buf_init(probe->read_buffer_, sizeof(probe->read_buffer_));
}

void Probe::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* /*buf*/) {
  auto* probe = static_cast<Probe*>(stream->data);
  if (probe->state_.finished() || nread == 0) {
    return;
  }
  if (probe->ssl_ == nullptr) {
    if (nread == UV_EOF && probe->state_.TakeClose(probe->target_->name)) {
      probe->Settle();  // the end of a body read up to the close
    } else if (nread < 0) {
      // Plain TCP reads from the connect on: an error while the request is still being
      // written is the send's.
      ProbeKind kind =
          probe->state_.step() == ProbeStep::kSend ? ProbeKind::kSend : ProbeKind::kReceive;
      probe->Fail(kind, SocketErrorText(static_cast<int>(nread)));
    } else {
      probe->ConsumeLine(probe->read_buffer_, static_cast<size_t>(nread));
    }
    return;
  }
  if (nread < 0) {
    probe->peer_closed_ = static_cast<int>(nread);
    uv_read_stop(stream);
  } else {
    BIO_write(probe->network_in_, probe->read_buffer_, static_cast<int>(nread));
  }
  switch (probe->state_.step()) {
    case ProbeStep::kHandshake:
      probe->DriveHandshake();
      break;
    case ProbeStep::kReceive:
      probe->DrainTls();
      break;
    default:
      break;  // kSend: kept in network_in_ until the request is sent
  }
}

// Plain TCP reads from the connect on: bytes may come while the request is being sent,
// and do not restart the send's timeout.
void Probe::ConsumeLine(const char* data, size_t size) {
  if (state_.TakeAnswer(data, size, env_, target_->name)) {
    Settle();
  } else if (state_.step() == ProbeStep::kReceive) {
    StartStep(ProbeStep::kReceive);
  }
}

// ---- TLS ------------------------------------------------------------------------------

void Probe::BeginHandshake() {
  StartStep(ProbeStep::kHandshake);
  ERR_clear_error();
  ssl_ = SSL_new(env_.ssl_ctx);
  network_in_ = ssl_ != nullptr ? BIO_new(BIO_s_mem()) : nullptr;
  network_out_ = network_in_ != nullptr ? BIO_new(BIO_s_mem()) : nullptr;
  if (network_out_ == nullptr) {
    BIO_free(network_in_);
    network_in_ = nullptr;
    Fail(ProbeKind::kTls, "failed to create SSL: " + TakeOpenSslError());
    return;
  }
  // An empty input BIO means "no bytes yet", not end of stream: we track EOF ourselves.
  BIO_set_mem_eof_return(network_in_, -1);
  SSL_set_bio(ssl_, network_in_, network_out_);
  SSL_set_connect_state(ssl_);
  const std::string& host = env_.options->host;
  if (!host.empty() && SSL_set_tlsext_host_name(ssl_, host.c_str()) != 1) {
    Fail(ProbeKind::kTls, std::string(kHandshakeFailed));
    return;
  }
  int rc = uv_read_start(&socket_.stream, OnAlloc, OnRead);
  if (rc < 0) {
    Fail(ProbeKind::kTls, SocketErrorText(rc));
    return;
  }
  DriveHandshake();
}

void Probe::DriveHandshake() {
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    // Our last handshake flight (Finished) is still in network_out_: BeginSend() flushes
    // it with the request in one write, which also keeps Nagle's algorithm from holding
    // the request back until the peer's delayed ACK.
    if (!CheckPeerCertificate() || !CheckAlpn()) {
      return;
    }
    if (SendsRequest(env_.options->scheme)) {
      BeginSend();
    } else {
      EndAfterHandshake();
    }
    return;
  }
  if (!FlushTls()) {
    return;
  }
  if (SSL_get_error(ssl_, rc) != SSL_ERROR_WANT_READ || peer_closed_ != 0) {
    ERR_clear_error();
    Fail(ProbeKind::kTls, std::string(kHandshakeFailed));
  }
}

// nginx's order and texts: the chain first ("<code>: <reason>"), then the host name.
bool Probe::CheckPeerCertificate() {
  const ProbeOptions& options = *env_.options;
  if (!options.ssl_verify) {
    return true;
  }
  long verify = SSL_get_verify_result(ssl_);  // NOLINT(google-runtime-int): OpenSSL's type
  if (verify != X509_V_OK) {
    Fail(ProbeKind::kTls, std::to_string(verify) + ": " + X509_verify_cert_error_string(verify));
    return false;
  }
  if (options.host.empty()) {
    return true;
  }
  X509* cert = SSL_get1_peer_certificate(ssl_);
  // Flags 0: the subject CN is checked when the certificate has no DNS names.
  bool match = cert != nullptr &&
               X509_check_host(cert, options.host.data(), options.host.size(), 0, nullptr) == 1;
  X509_free(cert);
  if (!match) {
    Fail(ProbeKind::kTls, "certificate host mismatch");
    return false;
  }
  return true;
}

bool Probe::CheckAlpn() {
  const std::vector<std::string>& offered = env_.options->alpn;
  if (offered.empty()) {
    return true;
  }
  std::string error = AlpnMismatch(ssl_, offered);
  if (error.empty()) {
    return true;
  }
  Fail(ProbeKind::kTls, std::move(error));
  return false;
}

// A tls probe sends nothing after the handshake, but its last flight (Finished) must reach
// the server before the socket closes, or the server sees a handshake cut short.
void Probe::EndAfterHandshake() {
  if (FlushTls() && !writing_) {
    Succeed();
  }
}

void Probe::Succeed() {
  if (state_.Succeed(target_->name)) {
    Settle();
  }
}

void Probe::DrainTls() {
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(ssl_, read_buffer_, sizeof(read_buffer_));
    if (n > 0) {
      ConsumeLine(read_buffer_, static_cast<size_t>(n));
      if (state_.finished()) {
        return;
      }
      continue;
    }
    int error = SSL_get_error(ssl_, n);
    if (!FlushTls()) {  // SSL_read may answer the peer (key update)
      return;
    }
    const bool closed =
        error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_WANT_READ && peer_closed_ == UV_EOF);
    if (closed && state_.TakeClose(target_->name)) {
      Settle();  // the end of a body read up to the close
      return;
    }
    if (error == SSL_ERROR_WANT_READ) {
      if (peer_closed_ != 0) {
        Fail(ProbeKind::kReceive, SocketErrorText(peer_closed_));
      }
      return;
    }
    if (error == SSL_ERROR_ZERO_RETURN) {
      Fail(ProbeKind::kReceive, "closed");
    } else {
      Fail(ProbeKind::kReceive, "ssl read failed: " + TakeOpenSslError());
    }
    return;
  }
}

// Moves what OpenSSL wrote into network_out_ to the socket. False if the probe failed.
bool Probe::FlushTls() {
  size_t pending = BIO_ctrl_pending(network_out_);
  if (pending > 0) {
    size_t old_size = out_pending_.size();
    out_pending_.resize(old_size + pending);
    int n = BIO_read(network_out_, out_pending_.data() + old_size, static_cast<int>(pending));
    out_pending_.resize(old_size + static_cast<size_t>(std::max(n, 0)));
  }
  if (!writing_ && !out_pending_.empty()) {
    SubmitWrite();
  }
  return !state_.finished();
}

void Probe::SubmitWrite() {
  out_in_flight_.swap(out_pending_);
  out_pending_.clear();
  uv_buf_t buf = uv_buf_init(out_in_flight_.data(), static_cast<unsigned>(out_in_flight_.size()));
  write_req_.data = this;
  writing_ = true;
  int rc = uv_write(&write_req_, &socket_.stream, &buf, 1, OnWrite);
  if (rc < 0) {
    writing_ = false;
    bool handshake = state_.step() == ProbeStep::kHandshake;
    Fail(handshake ? ProbeKind::kTls : ProbeKind::kSend,
         handshake ? std::string(kHandshakeFailed) : SocketErrorText(rc));
  }
}

// ---- ProbeList ------------------------------------------------------------------------

void ProbeList::Add(Probe* probe) {
  probe->list_ = this;
  probe->prev_ = nullptr;
  probe->next_ = head_;
  if (head_ != nullptr) {
    head_->prev_ = probe;
  }
  head_ = probe;
  ++size_;
}

void ProbeList::Remove(Probe* probe) {
  if (probe->prev_ != nullptr) {
    probe->prev_->next_ = probe->next_;
  } else {
    head_ = probe->next_;
  }
  if (probe->next_ != nullptr) {
    probe->next_->prev_ = probe->prev_;
  }
  probe->prev_ = probe->next_ = nullptr;
  probe->list_ = nullptr;
  --size_;
}

void ProbeList::AbortAll() {
  while (head_ != nullptr) {
    head_->Abort();  // removes it from the list
  }
}

}  // namespace upcheck
