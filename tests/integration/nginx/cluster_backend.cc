#include "cluster_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace upcheck::testing {
namespace {

void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client went away: nothing to answer
    done += static_cast<size_t>(n);
  }
}

std::string Response(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " Test\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// The path of a request line "GET /path HTTP/1.x".
std::string RequestPath(const std::string& request) {
  const size_t start = request.find(' ');
  if (start == std::string::npos) return "";
  const size_t end = request.find(' ', start + 1);
  return request.substr(start + 1, end == std::string::npos ? end : end - start - 1);
}

template <typename F>
bool PollUntil(F done, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

ClusterBackend::ClusterBackend(std::string probe_path) : probe_path_(std::move(probe_path)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || wake_fd_ < 0 ||
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 512) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    error_ = "backend: " + std::error_code(errno, std::generic_category()).message();
    return;
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Loop(); });
}

ClusterBackend::~ClusterBackend() {
  Stop();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

std::string ClusterBackend::address() const { return "127.0.0.1:" + std::to_string(port_); }

void ClusterBackend::SetProbeMode(ProbeMode mode) {
  mode_.store(mode);
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

bool ClusterBackend::WaitForProbes(int n, std::chrono::milliseconds deadline) const {
  return PollUntil([&] { return probes() >= n; }, deadline);
}

bool ClusterBackend::WaitForHeld(int n, std::chrono::milliseconds deadline) const {
  return PollUntil([&] { return held() >= n; }, deadline);
}

void ClusterBackend::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  thread_.join();
  for (Conn& c : conns_) close(c.fd);
  conns_.clear();
}

void ClusterBackend::Loop() {
  while (!stopping_.load()) {
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    for (const Conn& c : conns_) fds.push_back({c.fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) continue;  // EINTR
    if (fds[1].revents != 0) {
      uint64_t count;
      (void)!read(wake_fd_, &count, sizeof count);
      AnswerHeld();
    }
    // Walk the connections polled (accepted ones are appended after them).
    std::vector<Conn> kept;
    for (size_t i = 0; i < conns_.size(); ++i) {
      Conn& c = conns_[i];
      const bool polled = i + 2 < fds.size();
      if (c.fd < 0) continue;  // answered by AnswerHeld()
      if (polled && fds[i + 2].revents != 0 && !Read(c)) {
        close(c.fd);
        continue;
      }
      kept.push_back(std::move(c));
    }
    conns_ = std::move(kept);
    if (fds[0].revents != 0) Accept();
  }
}

void ClusterBackend::Accept() {
  const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) conns_.push_back({fd, "", false});
}

bool ClusterBackend::Read(Conn& c) {
  char buf[4096];
  const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
  if (n <= 0) {
    if (c.held) held_.fetch_sub(1);
    return false;  // EOF or error: the client is gone
  }
  if (c.held) return true;  // bytes after a held probe: keep holding
  c.in.append(buf, static_cast<size_t>(n));
  if (c.in.find("\r\n\r\n") == std::string::npos) return true;
  const bool probe = RequestPath(c.in) == probe_path_;
  if (probe) probes_.fetch_add(1);
  return Answer(c, probe);
}

bool ClusterBackend::Answer(Conn& c, bool probe) {
  if (!probe) {
    // Counted before the answer leaves, so a client that has its answer sees it counted.
    proxied_.fetch_add(1);
    WriteAll(c.fd, Response(200, std::to_string(port_)));
    return false;
  }
  switch (mode_.load()) {
    case ProbeMode::kOk:
      WriteAll(c.fd, Response(200, "ok"));
      return false;
    case ProbeMode::kFail:
      WriteAll(c.fd, Response(500, "failing"));
      return false;
    case ProbeMode::kClose:
      return false;
    case ProbeMode::kHang:
      if (!c.held) held_.fetch_add(1);
      c.held = true;
      return true;
  }
  return false;
}

void ClusterBackend::AnswerHeld() {
  if (mode_.load() == ProbeMode::kHang) return;
  for (Conn& c : conns_) {
    if (!c.held) continue;
    held_.fetch_sub(1);
    c.held = false;
    Answer(c, true);
    close(c.fd);
    c.fd = -1;
  }
}

}  // namespace upcheck::testing
