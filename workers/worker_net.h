// WorkerNet: a worker's network services from workers/net: the HTTP status listener on
// status_listen and one TCP balancer per upstream with balancer_listen.
//
// Loop thread of one worker. The services take over the worker's copies of the inherited
// listening descriptors. Close() stops accepting and closes every connection; the handles
// are freed once the loop has run their close callbacks.
#ifndef UPCHECK_WORKERS_WORKER_NET_H_
#define UPCHECK_WORKERS_WORKER_NET_H_

#include <uv.h>

#include <functional>
#include <memory>
#include <string_view>

#include "listeners.h"
#include "upcheck/check_event.h"
#include "upcheck/config.h"
#include "upcheck/internal/registry.h"
#include "upcheck/log.h"
#include "upcheck/shared_dict.h"
#include "upcheck/status.h"
#include "upcheck/upstreams.h"

namespace upcheck::daemon {

class WorkerNet {
 public:
  struct Env {
    uv_loop_t* loop = nullptr;
    const Config* config = nullptr;
    const Listeners* listeners = nullptr;
    Upstreams* view = nullptr;
    Registry* registry = nullptr;  // balancers keep the panic state in it
    SharedDict* dict = nullptr;
    const Logger* logger = nullptr;
    std::function<void()> before_render;  // brings the view up to date before a page
    // Optional: each balancer connection's outcome, for the passive checks.
    std::function<void(std::string_view upstream, const PeerInfo& peer, PassiveResult result)>
        on_passive;
  };

  static Result<std::unique_ptr<WorkerNet>> Start(const Env& env);
  ~WorkerNet();
  WorkerNet(const WorkerNet&) = delete;
  WorkerNet& operator=(const WorkerNet&) = delete;

  void Close();  // idempotent

  // Graceful stop: closes the status listener, stops the balancers accepting and runs
  // `on_idle` on the loop once their connections in flight have all ended (never from
  // inside Drain()). Returns false, and never runs `on_idle`, when there is no balancer to
  // wait for. Close() still closes what is left.
  bool Drain(std::function<void()> on_idle);

 private:
  struct Services;
  explicit WorkerNet(std::unique_ptr<Services> services);
  std::unique_ptr<Services> services_;
};

}  // namespace upcheck::daemon

#endif  // UPCHECK_WORKERS_WORKER_NET_H_
