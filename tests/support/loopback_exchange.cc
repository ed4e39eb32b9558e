#include "loopback_exchange.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace upcheck::testing {
namespace {

int ConnectLoopback(int port, std::chrono::milliseconds deadline) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{static_cast<time_t>(deadline.count() / 1000),
             static_cast<suseconds_t>(deadline.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool ParseHead(const std::string& head, HttpReply* reply) {
  std::istringstream in(head);
  std::string line, version;
  if (!std::getline(in, line)) return false;
  std::istringstream first(line);
  if (!(first >> version >> reply->status)) return false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    size_t v = line.find_first_not_of(' ', colon + 1);
    reply->headers[name] = v == std::string::npos ? "" : line.substr(v);
  }
  return true;
}

}  // namespace

Result<HttpReply> LoopbackExchange(int port, const std::string& request,
                                   std::chrono::milliseconds deadline) {
  int fd = ConnectLoopback(port, deadline);
  if (fd < 0) return Result<HttpReply>::Error(std::string("connect: ") + std::strerror(errno));
  std::string raw;
  if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) raw.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  HttpReply reply;
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos || !ParseHead(raw.substr(0, end), &reply)) {
    return Result<HttpReply>::Error("no complete answer: \"" + raw + "\"");
  }
  reply.body = raw.substr(end + 4);
  return reply;
}

}  // namespace upcheck::testing
