#include "loopback_http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>

#include <array>
#include <csignal>
#include <cstring>
#include <system_error>

namespace upcheck::testing {

namespace {

constexpr size_t kMaxRequestBytes = 1 << 20;

std::string ErrnoText() { return std::error_code(errno, std::generic_category()).message(); }

sockaddr_storage LoopbackAddress(Family family, int port) {
  sockaddr_storage storage{};
  if (family == Family::kV6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in->sin_port = htons(static_cast<uint16_t>(port));
  }
  return storage;
}

socklen_t AddressLength(Family family) {
  return family == Family::kV6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// Binds a TCP socket to the loopback address of `family`, port 0. Returns the fd or -1.
int BindLoopback(Family family, int* port) {
  int fd = socket(family == Family::kV6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  int one = 1;
  if (family == Family::kV6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  sockaddr_storage address = LoopbackAddress(family, 0);
  socklen_t length = AddressLength(family);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return -1;
  }
  *port = family == Family::kV6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port)
                                : ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  return fd;
}

std::string NameFor(Family family, int port, const std::string& path) {
  switch (family) {
    case Family::kV4:
      return "127.0.0.1:" + std::to_string(port);
    case Family::kV6:
      return "[::1]:" + std::to_string(port);
    case Family::kUnix:
      return "unix:" + path;
  }
  return {};
}

ssize_t ReadSome(SSL* ssl, int fd, char* buffer, size_t size) {
  if (ssl != nullptr) {
    int n = SSL_read(ssl, buffer, static_cast<int>(size));
    ERR_clear_error();
    return n;
  }
  for (;;) {
    ssize_t n = recv(fd, buffer, size, 0);
    if (n >= 0 || errno != EINTR) {
      return n;
    }
  }
}

bool WriteAll(SSL* ssl, int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = 0;
    if (ssl != nullptr) {
      n = SSL_write(ssl, data.data() + done, static_cast<int>(data.size() - done));
      ERR_clear_error();
    } else {
      n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) {
        continue;
      }
    }
    if (n <= 0) {
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

bool HasIpv6Loopback() {
  int port = 0;
  int fd = BindLoopback(Family::kV6, &port);
  if (fd < 0) {
    return false;
  }
  close(fd);
  return true;
}

std::string StatusResponse(int status) {
  return "HTTP/1.1 " + std::to_string(status) + " Test\r\nContent-Length: 0\r\n\r\n";
}

LoopbackHttpServer::LoopbackHttpServer(Family family, std::string response)
    : LoopbackHttpServer(Options{.family = family, .response = std::move(response)}) {}

LoopbackHttpServer::LoopbackHttpServer(Options options) : options_(std::move(options)) {
  // A client that goes away must not kill the test with SIGPIPE (TLS writes use write()).
  std::signal(SIGPIPE, SIG_IGN);
  if (!SetUpTls() || !Listen()) {
    return;
  }
  if (pipe2(wake_pipe_, O_CLOEXEC) != 0) {
    error_ = std::string("pipe2: ") + ErrnoText();
    return;
  }
  accept_thread_ = std::thread(&LoopbackHttpServer::AcceptLoop, this);
}

LoopbackHttpServer::~LoopbackHttpServer() {
  Stop();
  if (listen_fd_ >= 0) {
    close(listen_fd_);
  }
  for (int fd : wake_pipe_) {
    if (fd >= 0) {
      close(fd);
    }
  }
  if (!path_.empty()) {
    unlink(path_.c_str());
  }
  if (!dir_.empty()) {
    rmdir(dir_.c_str());
  }
  SSL_CTX_free(tls_);
}

bool LoopbackHttpServer::SetUpTls() {
  if (options_.tls_cert_file.empty()) {
    return true;
  }
  tls_ = SSL_CTX_new(TLS_server_method());
  if (tls_ == nullptr ||
      SSL_CTX_use_certificate_chain_file(tls_, options_.tls_cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(tls_, options_.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::array<char, 256> buffer{};
    ERR_error_string_n(ERR_get_error(), buffer.data(), buffer.size());
    ERR_clear_error();
    error_ = std::string("TLS set-up: ") + buffer.data();
    return false;
  }
  return SetUpTlsExtras();
}

bool LoopbackHttpServer::SetUpTlsExtras() {
  if (!options_.tls_client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(tls_, options_.tls_client_ca_file.c_str(), nullptr) != 1) {
      error_ = "TLS set-up: cannot load " + options_.tls_client_ca_file;
      return false;
    }
    SSL_CTX_set_verify(tls_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  if (!options_.tls_alpn.empty()) {
    SSL_CTX_set_alpn_select_cb(tls_, SelectAlpn, &options_.tls_alpn);
  }
  if (options_.tls_max_version != 0) {
    SSL_CTX_set_max_proto_version(tls_, options_.tls_max_version);
  }
  return true;
}

int LoopbackHttpServer::SelectAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
                                   const unsigned char* in, unsigned int inlen, void* arg) {
  const auto* known = static_cast<const std::vector<std::string>*>(arg);
  for (unsigned int i = 0; i < inlen; i += 1 + in[i]) {
    std::string name(reinterpret_cast<const char*>(in + i + 1), in[i]);
    for (const std::string& k : *known) {
      if (k == name) {
        *out = in + i + 1;
        *outlen = in[i];
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

bool LoopbackHttpServer::Listen() {
  if (options_.family == Family::kUnix) {
    std::string dir_template = "/tmp/upcheck-lb-XXXXXX";
    if (mkdtemp(dir_template.data()) == nullptr) {
      error_ = std::string("mkdtemp: ") + ErrnoText();
      return false;
    }
    dir_ = dir_template;
    path_ = dir_ + "/http.sock";
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof(address.sun_path) - 1);
    if (listen_fd_ < 0 ||
        bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      error_ = std::string("bind ") + path_ + ": " + ErrnoText();
      return false;
    }
  } else {
    listen_fd_ = BindLoopback(options_.family, &port_);
    if (listen_fd_ < 0) {
      error_ = std::string("bind loopback: ") + ErrnoText();
      return false;
    }
  }
  if (listen(listen_fd_, 512) != 0 ||
      fcntl(listen_fd_, F_SETFL, fcntl(listen_fd_, F_GETFL) | O_NONBLOCK) != 0) {
    error_ = std::string("listen: ") + ErrnoText();
    return false;
  }
  return true;
}

std::string LoopbackHttpServer::host() const {
  switch (options_.family) {
    case Family::kV4:
      return "127.0.0.1";
    case Family::kV6:
      return "::1";
    case Family::kUnix:
      return {};
  }
  return {};
}

std::string LoopbackHttpServer::address() const { return NameFor(options_.family, port_, path_); }

int LoopbackHttpServer::connections() const { return connections_.load(); }
int LoopbackHttpServer::requests() const { return requests_.load(); }
int LoopbackHttpServer::handshake_failures() const { return handshake_failures_.load(); }

std::string LoopbackHttpServer::last_request() const {
  std::lock_guard lock(mutex_);
  return last_request_;
}

bool LoopbackHttpServer::WaitFor(const std::atomic<int>& counter, int n,
                                 std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return counter.load() >= n; });
}

bool LoopbackHttpServer::WaitForConnections(int n, std::chrono::milliseconds timeout) const {
  return WaitFor(connections_, n, timeout);
}

bool LoopbackHttpServer::WaitForRequests(int n, std::chrono::milliseconds timeout) const {
  return WaitFor(requests_, n, timeout);
}

void LoopbackHttpServer::SetMode(Mode mode) {
  std::lock_guard lock(mutex_);
  options_.mode = mode;
}

void LoopbackHttpServer::SetResponse(std::string response) {
  std::lock_guard lock(mutex_);
  options_.response = std::move(response);
}

void LoopbackHttpServer::SetScript(std::vector<std::string> script) {
  std::lock_guard lock(mutex_);
  options_.script = std::move(script);
  script_next_ = 0;
}

void LoopbackHttpServer::SetDelay(std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  options_.delay = delay;
}

void LoopbackHttpServer::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (Connection& connection : connections_list_) {
      if (connection.fd >= 0) {
        shutdown(connection.fd, SHUT_RDWR);  // wakes a blocked read or handshake
      }
    }
  }
  changed_.notify_all();
  if (wake_pipe_[1] >= 0) {
    char byte = 1;
    (void)!write(wake_pipe_[1], &byte, 1);
  }
  if (accept_thread_.joinable()) {
    accept_thread_.join();
  }
  // The accept thread is gone, so the list no longer changes shape.
  for (Connection& connection : connections_list_) {
    if (connection.thread.joinable()) {
      connection.thread.join();
    }
  }
  std::lock_guard lock(mutex_);
  connections_list_.clear();
}

void LoopbackHttpServer::ReapLocked() {
  for (auto it = connections_list_.begin(); it != connections_list_.end();) {
    if (it->done.load()) {
      it->thread.join();
      it = connections_list_.erase(it);
    } else {
      ++it;
    }
  }
}

void LoopbackHttpServer::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if (fds[1].revents != 0) {
      return;
    }
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    if (options_.family != Family::kUnix) {
      // Like nginx on TLS connections: otherwise Nagle holds the response back behind the
      // unacknowledged session tickets until the client's delayed ACK (40 ms).
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    std::lock_guard lock(mutex_);
    if (stopping_) {
      close(fd);
      return;
    }
    ReapLocked();
    Plan plan{options_.mode, options_.response, options_.delay};
    if (script_next_ < options_.script.size()) {
      plan.mode = Mode::kRespond;  // a scripted connection is answered, whatever `mode`
      plan.response = options_.script[script_next_++];
    }
    Connection& connection = connections_list_.emplace_back();
    connection.fd = fd;
    connection.thread = std::thread(&LoopbackHttpServer::Serve, this, &connection, plan);
    connections_.fetch_add(1);
    changed_.notify_all();
  }
}

bool LoopbackHttpServer::SleepUntil(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return !changed_.wait_until(lock, deadline, [&] { return stopping_; });
}

void LoopbackHttpServer::Serve(Connection* connection, const Plan& plan) {
  int fd = connection->fd;
  SSL* ssl = nullptr;
  bool reset = false;
  // Runs on every way out: the fd is closed under the lock so Stop() never touches a
  // closed (or reused) descriptor.
  auto finish = [&] {
    if (reset) {
      linger hard{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    }
    SSL_free(ssl);
    {
      std::lock_guard lock(mutex_);
      close(fd);
      connection->fd = -1;
    }
    connection->done.store(true);
    changed_.notify_all();
  };
  if (plan.mode == Mode::kCloseAtAccept) {
    finish();
    return;
  }
  if (tls_ != nullptr) {
    ssl = SSL_new(tls_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
      ERR_clear_error();
      handshake_failures_.fetch_add(1);
      finish();
      return;
    }
  }

  std::string request;
  char buffer[4096];
  const std::string& end = options_.request_end;  // fixed at construction
  while (end.empty() ? request.empty() : request.find(end) == std::string::npos) {
    ssize_t n = ReadSome(ssl, fd, buffer, sizeof(buffer));
    if (n <= 0) {
      finish();
      return;
    }
    request.append(buffer, static_cast<size_t>(n));
    if (request.size() > kMaxRequestBytes) {
      break;
    }
  }
  {
    std::lock_guard lock(mutex_);
    last_request_ = request;
  }
  requests_.fetch_add(1);
  changed_.notify_all();

  switch (plan.mode) {
    case Mode::kHangMidResponse:
      if (!WriteAll(ssl, fd, plan.response.substr(0, plan.response.size() / 2))) break;
      [[fallthrough]];
    case Mode::kHang:
      while (ReadSome(ssl, fd, buffer, sizeof(buffer)) > 0) {
      }
      break;
    case Mode::kReset:
      reset = true;
      break;
    case Mode::kResetMidLine: {
      std::string line = plan.response.substr(0, plan.response.find('\n'));
      (void)WriteAll(ssl, fd, line.substr(0, line.size() / 2));
      reset = true;
      break;
    }
    case Mode::kTrickle:
      for (char c : plan.response) {
        if (!SleepUntil(std::chrono::steady_clock::now() + plan.delay)) break;
        if (!WriteAll(ssl, fd, std::string(1, c))) break;
      }
      break;
    case Mode::kRespond:
    case Mode::kCloseBeforeLf: {
      if (plan.delay.count() > 0 && !SleepUntil(std::chrono::steady_clock::now() + plan.delay)) {
        break;
      }
      std::string data = plan.response;
      if (plan.mode == Mode::kCloseBeforeLf) {
        data = data.substr(0, data.find('\n'));
      }
      if (!WriteAll(ssl, fd, data)) {
        break;
      }
      if (ssl != nullptr) {
        SSL_shutdown(ssl);
        ERR_clear_error();
      } else {
        shutdown(fd, SHUT_WR);
      }
      // Drain until the client closes, so that closing never resets the connection
      // (an RST could destroy the response before the client reads it).
      timeval two_seconds{2, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &two_seconds, sizeof(two_seconds));
      while (ReadSome(ssl, fd, buffer, sizeof(buffer)) > 0) {
      }
      break;
    }
    case Mode::kCloseAtAccept:
      break;
  }
  finish();
}

LoopbackClosedPort::LoopbackClosedPort(Family family) : family_(family) {
  fd_ = BindLoopback(family, &port_);
  if (fd_ < 0) {
    port_ = 0;
  }
}

LoopbackClosedPort::~LoopbackClosedPort() {
  if (fd_ >= 0) {
    close(fd_);
  }
}

std::string LoopbackClosedPort::address() const { return NameFor(family_, port_, {}); }

LoopbackUnresponsivePort::LoopbackUnresponsivePort(Family family) : family_(family) {
  int port = 0;
  listen_fd_ = BindLoopback(family, &port);
  if (listen_fd_ < 0 || listen(listen_fd_, 0) != 0) {
    return;
  }
  filler_fd_ = socket(family == Family::kV6 ? AF_INET6 : AF_INET,
                      SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_storage address = LoopbackAddress(family, port);
  if (filler_fd_ < 0) {
    return;
  }
  int rc = connect(filler_fd_, reinterpret_cast<sockaddr*>(&address), AddressLength(family));
  if (rc != 0 && errno != EINPROGRESS) {
    return;
  }
  // Established (and queued, never accepted) within the deadline: the queue is full.
  pollfd writable{filler_fd_, POLLOUT, 0};
  int error = 0;
  socklen_t length = sizeof(error);
  if (poll(&writable, 1, 5000) == 1 &&
      getsockopt(filler_fd_, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0) {
    port_ = port;
  }
}

LoopbackUnresponsivePort::~LoopbackUnresponsivePort() {
  if (filler_fd_ >= 0) {
    close(filler_fd_);
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
  }
}

std::string LoopbackUnresponsivePort::address() const { return NameFor(family_, port_, {}); }

}  // namespace upcheck::testing
