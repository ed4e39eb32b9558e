#include "worker_net.h"

#include <string>
#include <utility>
#include <vector>

#include "net/balancer.h"
#include "net/status_server.h"

namespace upcheck::daemon {

struct WorkerNet::Services {
  std::unique_ptr<StatusServer> status;
  std::vector<std::unique_ptr<Balancer>> balancers;
  size_t draining = 0;  // balancers with connections still in flight
  std::function<void()> on_idle;
};

WorkerNet::WorkerNet(std::unique_ptr<Services> services) : services_(std::move(services)) {}

WorkerNet::~WorkerNet() { Close(); }

Result<std::unique_ptr<WorkerNet>> WorkerNet::Start(const Env& env) {
  auto services = std::make_unique<Services>();
  if (env.listeners->status) {
    StatusRenderer handler = MakeStatusHandler(env.view, env.registry, env.dict, env.before_render);
    // The server takes over the descriptor: this worker's inherited copy, which nothing
    // else in the worker closes (the master's ListenSocket never runs its destructor here).
    Result<std::unique_ptr<StatusServer>> server =
        StatusServer::Start(env.loop, env.listeners->status->fd(), std::move(handler));
    if (!server.ok()) return Status::Error("status listener: " + server.error());
    services->status = std::move(*server);
  }
  const std::vector<UpstreamConfig>& upstreams = env.config->upstreams;
  for (size_t u = 0; u < upstreams.size(); ++u) {
    const std::shared_ptr<ListenSocket>& socket = env.listeners->balancer[u];
    if (!socket) continue;
    BalancerOptions options;
    if (env.on_passive) {
      options.on_passive = [on_passive = env.on_passive, name = upstreams[u].name](
                               const PeerInfo& peer, PassiveResult result) {
        on_passive(name, peer, result);
      };
    }
    options.pick = {.slow_start_ms = upstreams[u].slow_start_ms,
                    .panic_threshold = static_cast<uint32_t>(upstreams[u].panic_threshold)};
    options.registry = env.registry;
    Result<std::unique_ptr<Balancer>> balancer = Balancer::Start(
        env.loop, socket->fd(), env.view, upstreams[u].name, env.logger, std::move(options));
    if (!balancer.ok()) {
      return Status::Error("upstream " + upstreams[u].name + " balancer: " + balancer.error());
    }
    services->balancers.push_back(std::move(*balancer));
  }
  return std::unique_ptr<WorkerNet>(new WorkerNet(std::move(services)));
}

void WorkerNet::Close() {
  if (services_->status) services_->status->Close();
  for (const auto& b : services_->balancers) b->Close();
}

bool WorkerNet::Drain(std::function<void()> on_idle) {
  Services& s = *services_;
  if (s.status) s.status->Close();
  if (s.on_idle || s.balancers.empty()) return false;
  s.on_idle = std::move(on_idle);
  s.draining = s.balancers.size();
  auto one_idle = [&s] {
    if (--s.draining == 0) s.on_idle();
  };
  for (const auto& b : s.balancers) b->Drain(one_idle);
  return true;
}

}  // namespace upcheck::daemon
