#include "demo_backends.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "listeners.h"

namespace upcheck::daemon {
namespace {

std::string Response(int status) {
  const char* body = status == 200 ? "ok\n" : "unavailable\n";
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", status,
                     status == 200 ? "OK" : "Service Unavailable", std::strlen(body), body);
}

// A loopback port held by a socket that is bound and never listens: connects are refused.
int RefusingSocket(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(sin);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &length) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  *port = ntohs(sin.sin_port);
  return fd;
}

// Reads the request head (or what comes within 1 s), answers, closes.
void Answer(int listen_fd, int status) {
  int fd = accept(listen_fd, nullptr, nullptr);
  if (fd < 0) return;
  timeval timeout{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string request;
  char buffer[1024];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    request.append(buffer, static_cast<size_t>(n));
  }
  std::string response = Response(status);
  (void)!write(fd, response.data(), response.size());
  close(fd);
}

[[noreturn]] void Serve(pid_t parent, int steady, int flapping, int backup) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(0);
  signal(SIGINT, SIG_IGN);
  pollfd fds[3] = {{steady, POLLIN, 0}, {flapping, POLLIN, 0}, {backup, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 3, -1) < 0 && errno != EINTR) _exit(1);
    bool flap_up = (time(nullptr) / kFlapSeconds) % 2 == 0;
    if (fds[0].revents & POLLIN) Answer(steady, 200);
    if (fds[1].revents & POLLIN) Answer(flapping, flap_up ? 200 : 503);
    if (fds[2].revents & POLLIN) Answer(backup, 200);
  }
}

}  // namespace

Result<DemoBackends> StartDemoBackends() {
  std::shared_ptr<ListenSocket> sockets[3];
  for (auto& s : sockets) {
    Result<std::shared_ptr<ListenSocket>> r = ListenSocket::Open("127.0.0.1:0", "demo backend");
    if (!r.ok()) return r.status();
    s = std::move(*r);
  }
  DemoBackends out;
  int refusing_fd = RefusingSocket(&out.refusing);
  if (refusing_fd < 0) {
    return Status::Error(
        fmt::format("demo backend: cannot bind: {}", std::generic_category().message(errno)));
  }
  auto port = [](const ListenSocket& s) {
    return std::stoi(s.bound().substr(s.bound().rfind(':') + 1));
  };
  out.steady = port(*sockets[0]);
  out.flapping = port(*sockets[1]);
  out.backup = port(*sockets[2]);
  pid_t parent = getpid();
  out.pid = fork();
  if (out.pid == 0) Serve(parent, sockets[0]->fd(), sockets[1]->fd(), sockets[2]->fd());
  close(refusing_fd);  // the child holds the port now
  if (out.pid < 0) {
    return Status::Error(fmt::format("fork: {}", std::generic_category().message(errno)));
  }
  return out;
}

}  // namespace upcheck::daemon
