#include "listeners.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include <fmt/format.h>

namespace upcheck::daemon {
namespace {

std::string ErrnoText(int error) {
  std::string text = std::generic_category().message(error);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// The sockaddr for `a`, or false when the host is not a literal of its family.
bool ToSockaddr(const ListenAddress& a, sockaddr_storage* storage, socklen_t* length) {
  std::memset(storage, 0, sizeof(*storage));
  if (a.ipv6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(a.port);
    *length = sizeof(*sin6);
    return inet_pton(AF_INET6, a.host.c_str(), &sin6->sin6_addr) == 1;
  }
  auto* sin = reinterpret_cast<sockaddr_in*>(storage);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(a.port);
  *length = sizeof(*sin);
  return inet_pton(AF_INET, a.host.c_str(), &sin->sin_addr) == 1;
}

uint16_t BoundPort(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return 0;
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
}

// Binds and listens; returns the fd or sets errno and returns -1.
int BindAndListen(const ListenAddress& a, const sockaddr_storage& storage, socklen_t length) {
  int fd = socket(a.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (a.ipv6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&storage), length) != 0 || listen(fd, 511) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

Result<std::shared_ptr<ListenSocket>> Reuse(const std::shared_ptr<ListenSocket>& old,
                                            const std::string& address, std::string_view what,
                                            std::vector<std::string>* opened,
                                            const std::string& label) {
  if (old && old->address() == address) return old;
  Result<std::shared_ptr<ListenSocket>> s = ListenSocket::Open(address, what);
  if (s.ok() && opened) opened->push_back(fmt::format("{} on {}", label, (*s)->bound()));
  return s;
}

}  // namespace

ListenSocket::ListenSocket(int fd, std::string address, std::string bound)
    : fd_(fd), address_(std::move(address)), bound_(std::move(bound)) {}

ListenSocket::~ListenSocket() { close(fd_); }

Result<std::shared_ptr<ListenSocket>> ListenSocket::Open(std::string_view address,
                                                         std::string_view what) {
  using R = Result<std::shared_ptr<ListenSocket>>;
  Result<ListenAddress> a = ParseListenAddress(address);
  if (!a.ok()) return R::Error(fmt::format("bad {} \"{}\": {}", what, address, a.error()));
  sockaddr_storage storage;
  socklen_t length = 0;
  if (!ToSockaddr(*a, &storage, &length)) {
    return R::Error(fmt::format("bad {} \"{}\": not an IP literal", what, address));
  }
  int fd = BindAndListen(*a, storage, length);
  if (fd < 0) {
    return R::Error(fmt::format("cannot listen on {} ({}): {}", address, what, ErrnoText(errno)));
  }
  std::string host = a->ipv6 ? "[" + a->host + "]" : a->host;
  std::string bound = fmt::format("{}:{}", host, BoundPort(fd));
  return std::shared_ptr<ListenSocket>(new ListenSocket(fd, std::string(address), bound));
}

Result<Listeners> OpenListeners(const Config& config, const Listeners* previous,
                                std::vector<std::string>* opened) {
  Listeners out;
  std::vector<std::shared_ptr<ListenSocket>> unused;  // previous sockets not yet reused
  if (previous) {
    unused = previous->balancer;
    unused.push_back(previous->status);
  }
  // Each old socket serves one new key at most ("127.0.0.1:0" may be written twice).
  auto find_old = [&](const std::string& address) -> std::shared_ptr<ListenSocket> {
    for (auto& s : unused) {
      if (s && s->address() == address) return std::exchange(s, nullptr);
    }
    return nullptr;
  };
  if (const auto& s = config.daemon.status_listen) {
    auto r = Reuse(find_old(*s), *s, "status_listen", opened, "status listener");
    if (!r.ok()) return r.status();
    out.status = std::move(*r);
  }
  for (const UpstreamConfig& u : config.upstreams) {
    std::shared_ptr<ListenSocket> socket;
    if (u.balancer_listen) {
      auto r = Reuse(find_old(*u.balancer_listen), *u.balancer_listen,
                     "upstream " + u.name + " balancer_listen", opened,
                     "balancer listener for " + u.name);
      if (!r.ok()) return r.status();
      socket = std::move(*r);
    }
    out.balancer.push_back(std::move(socket));
  }
  return out;
}

std::vector<int> DescriptorsNotIn(const Listeners& from, const Listeners& keep) {
  std::vector<const ListenSocket*> kept{keep.status.get()};
  for (const auto& b : keep.balancer) kept.push_back(b.get());
  std::vector<const ListenSocket*> all{from.status.get()};
  for (const auto& b : from.balancer) all.push_back(b.get());
  std::vector<int> out;
  for (const ListenSocket* s : all) {
    if (s && std::find(kept.begin(), kept.end(), s) == kept.end()) out.push_back(s->fd());
  }
  return out;
}

}  // namespace upcheck::daemon
