// Listeners: the TCP sockets the master binds before fork (status_listen and each
// upstream's balancer_listen), inherited by every worker.
//
// Master only. A ListenSocket owns its fd and closes it when the last generation that uses
// it is gone: sockets are shared (std::shared_ptr) between the running configuration and
// the one a reload replaces, so an unchanged address keeps its socket, and its port,
// across reloads. Workers only read `fd`; they never close the master's copy.
#ifndef UPCHECK_WORKERS_LISTENERS_H_
#define UPCHECK_WORKERS_LISTENERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "upcheck/config.h"
#include "upcheck/status.h"

namespace upcheck::daemon {

class ListenSocket {
 public:
  // socket, SO_REUSEADDR, bind, listen. `what` names the config key in errors:
  // "cannot listen on 127.0.0.1:8080 (status_listen): address already in use".
  static Result<std::shared_ptr<ListenSocket>> Open(std::string_view address,
                                                    std::string_view what);
  ~ListenSocket();
  ListenSocket(const ListenSocket&) = delete;
  ListenSocket& operator=(const ListenSocket&) = delete;

  int fd() const { return fd_; }
  const std::string& address() const { return address_; }  // as configured
  const std::string& bound() const { return bound_; }      // with the real port

 private:
  ListenSocket(int fd, std::string address, std::string bound);
  int fd_;
  std::string address_;
  std::string bound_;
};

struct Listeners {
  std::shared_ptr<ListenSocket> status;                 // null: no status_listen
  std::vector<std::shared_ptr<ListenSocket>> balancer;  // per upstream; null: none
};

// Opens what `config` asks for, reusing the sockets of `previous` (may be null) whose
// configured address is unchanged. `opened` gets a line for each new socket, e.g.
// "status listener on 127.0.0.1:43210", "balancer listener for foo.com on [::1]:9000".
Result<Listeners> OpenListeners(const Config& config, const Listeners* previous,
                                std::vector<std::string>* opened);

// The descriptors of `from` that `keep` does not share.
std::vector<int> DescriptorsNotIn(const Listeners& from, const Listeners& keep);

}  // namespace upcheck::daemon

#endif  // UPCHECK_WORKERS_LISTENERS_H_
