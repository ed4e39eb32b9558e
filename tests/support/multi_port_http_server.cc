#include "multi_port_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace upcheck::testing {
namespace {

constexpr uint64_t kListenerTag = uint64_t{1} << 63;
constexpr uint64_t kWakeTag = uint64_t{1} << 62;
constexpr size_t kMaxRequest = 8192;

std::string Answer(int status) {
  return "HTTP/1.0 " + std::to_string(status) + (status == 200 ? " OK" : " Test") +
         "\r\nContent-Length: 0\r\n\r\n";
}

}  // namespace

MultiPortHttpServer::MultiPortHttpServer(size_t count, StatusFn status_of)
    : status_of_(std::move(status_of)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    error_ = std::string("epoll/eventfd: ") + std::strerror(errno);
    return;
  }
  epoll_event wake{EPOLLIN, {.u64 = kWakeTag}};
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake);
  for (size_t i = 0; i < count; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error_ = "socket for port " + std::to_string(i) + ": " + std::strerror(errno);
      return;
    }
    listen_fds_.push_back(fd);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
      error_ = "listener " + std::to_string(i) + ": " + std::strerror(errno);
      return;
    }
    ports_.push_back(ntohs(sin.sin_port));
    epoll_event ev{EPOLLIN, {.u64 = kListenerTag | i}};
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      error_ = std::string("epoll_ctl: ") + std::strerror(errno);
      return;
    }
  }
  thread_ = std::thread([this] { Loop(); });
}

MultiPortHttpServer::~MultiPortHttpServer() {
  Stop();
  for (int fd : listen_fds_) close(fd);
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

std::string MultiPortHttpServer::address(size_t index) const {
  return "127.0.0.1:" + std::to_string(ports_[index]);
}

void MultiPortHttpServer::Stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  thread_.join();
  for (size_t fd = 0; fd < conns_.size(); ++fd) {
    if (conns_[fd].port_index != 0) Close(static_cast<int>(fd));
  }
}

void MultiPortHttpServer::Loop() {
  epoll_event events[256];
  for (;;) {
    int n = epoll_wait(epoll_fd_, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int k = 0; k < n; ++k) {
      uint64_t tag = events[k].data.u64;
      if (tag == kWakeTag) return;
      if (tag & kListenerTag) {
        Accept(static_cast<uint32_t>(tag & ~kListenerTag));
      } else {
        Serve(static_cast<int>(tag));
      }
    }
  }
}

void MultiPortHttpServer::Accept(uint32_t index) {
  for (;;) {
    int fd = accept4(listen_fds_[index], nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) faults_++;
      return;
    }
    if (static_cast<size_t>(fd) >= conns_.size()) conns_.resize(static_cast<size_t>(fd) + 1024);
    conns_[fd] = Conn{index + 1, {}};  // 0 marks a free slot
    epoll_event ev{EPOLLIN, {.u64 = static_cast<uint64_t>(fd)}};
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      faults_++;
      Close(fd);
    }
  }
}

void MultiPortHttpServer::Serve(int fd) {
  Conn& c = conns_[fd];
  char buf[2048];
  ssize_t got = read(fd, buf, sizeof(buf));
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (got <= 0) {
    faults_++;  // EOF or an error before a whole request
    return Close(fd);
  }
  c.request.append(buf, static_cast<size_t>(got));
  if (c.request.find("\r\n\r\n") == std::string::npos) {
    if (c.request.size() > kMaxRequest) {
      faults_++;
      Close(fd);
    }
    return;
  }
  std::string answer = Answer(status_of_(c.port_index - 1, std::chrono::steady_clock::now()));
  // A few dozen bytes always fit in a fresh loopback socket's send buffer.
  if (write(fd, answer.data(), answer.size()) != static_cast<ssize_t>(answer.size())) {
    faults_++;
  } else {
    answered_.fetch_add(1, std::memory_order_relaxed);
  }
  Close(fd);
}

void MultiPortHttpServer::Close(int fd) {
  conns_[fd] = Conn{};
  close(fd);  // also leaves the epoll set
}

}  // namespace upcheck::testing
