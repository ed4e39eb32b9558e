#include "net_test_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>

namespace upcheck::testing {
namespace {

int RemainingMs(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

LoopThread::LoopThread() {
  uv_loop_init(&loop_);
  async_.data = this;
  uv_async_init(&loop_, &async_, OnAsync);
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
}

LoopThread::~LoopThread() {
  if (!stopped_) Stop();
}

void LoopThread::OnAsync(uv_async_t* async) {
  auto* self = static_cast<LoopThread*>(async->data);
  std::list<std::function<void()>> queue;
  {
    std::lock_guard<std::mutex> lock(self->mutex_);
    queue.swap(self->queue_);
  }
  for (auto& fn : queue) fn();
}

bool LoopThread::Run(std::function<void()> fn, Millis timeout) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> future = done->get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back([fn = std::move(fn), done] {
      fn();
      done->set_value();
    });
  }
  uv_async_send(&async_);
  return future.wait_for(timeout) == std::future_status::ready;
}

int LoopThread::Stop() {
  stopped_ = true;
  Run([this] { uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr); });
  thread_.join();
  return uv_loop_close(&loop_);
}

int ListenLoopback(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 128) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, std::string_view data, Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!data.empty()) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, RemainingMs(deadline)) <= 0) return false;
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::optional<std::string> ReadToEof(int fd, Millis timeout, bool tolerate_reset) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out;
  char buffer[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, RemainingMs(deadline)) <= 0) return std::nullopt;
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n == 0) return out;
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) {
      if (tolerate_reset && errno == ECONNRESET) return out;
      return std::nullopt;
    }
    out.append(buffer, static_cast<size_t>(n));
  }
}

bool ClosedByPeer(int fd, Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char c;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, RemainingMs(deadline)) <= 0) return false;
    ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n > 0) return false;
  }
}

std::optional<std::string> HttpExchange(int port, std::string_view request) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return std::nullopt;
  std::optional<std::string> answer;
  if (SendAll(fd, request)) answer = ReadToEof(fd);
  ::close(fd);
  return answer;
}

std::string HttpAnswer::Header(std::string_view name) const {
  const std::string needle = "\r\n" + std::string(name) + ": ";
  size_t at = head.find(needle);
  if (at == std::string::npos) return "";
  at += needle.size();
  return head.substr(at, head.find("\r\n", at) - at);
}

std::optional<HttpAnswer> ParseAnswer(const std::string& raw) {
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos || raw.compare(0, 9, "HTTP/1.1 ") != 0) return std::nullopt;
  HttpAnswer a;
  a.status = std::atoi(raw.c_str() + 9);
  a.head = raw.substr(0, end);
  a.body = raw.substr(end + 4);
  return a;
}

EchoServer::EchoServer(bool unix_socket) {
  if (::pipe2(wake_, O_CLOEXEC) != 0) return;
  int fd = -1;
  if (unix_socket) {
    char tmpl[] = "/tmp/upcheck-echo-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return;
    dir_ = tmpl;
    path_ = dir_ + "/echo.sock";
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd, 128) != 0) {
      ::close(fd);
      return;
    }
  } else {
    fd = ListenLoopback(&port_);
    if (fd < 0) return;
  }
  listen_fd_ = fd;
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

EchoServer::~EchoServer() {
  stopping_ = true;
  if (wake_[1] >= 0) (void)!::write(wake_[1], "x", 1);
  if (accept_thread_.joinable()) accept_thread_.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (std::thread& t : threads_) t.join();
  for (int fd : fds_) ::close(fd);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (int fd : wake_) {
    if (fd >= 0) ::close(fd);
  }
  if (!path_.empty()) ::unlink(path_.c_str());
  if (!dir_.empty()) ::rmdir(dir_.c_str());
}

std::string EchoServer::address() const {
  return path_.empty() ? "127.0.0.1:" + std::to_string(port_) : "unix:" + path_;
}

bool EchoServer::WaitForConnections(int n, Millis timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (connections_.load() < n) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    pollfd none{-1, 0, 0};
    ::poll(&none, 0, 5);  // a short poll between looks at the counter
  }
  return true;
}

void EchoServer::AcceptLoop() {
  while (!stopping_) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 || (p[1].revents & POLLIN) != 0) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    std::lock_guard<std::mutex> lock(mutex_);
    fds_.push_back(fd);
    threads_.emplace_back([fd] {
      char buffer[65536];
      for (;;) {
        ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        if (!SendAll(fd, std::string_view(buffer, static_cast<size_t>(n)), Millis(30000))) break;
      }
      ::shutdown(fd, SHUT_WR);
      // The fd is closed by the destructor, after every thread is done with it.
    });
  }
}

}  // namespace upcheck::testing
