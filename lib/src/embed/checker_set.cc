#include "upcheck/checker_set.h"

#include <utility>

namespace upcheck {

CheckerSet::CheckerSet(uv_loop_s* loop, HealthShm shm, Options options)
    : loop_(loop), shm_(std::move(shm)), options_(std::move(options)) {
  // Status pages read the whole view: bring every upstream up to date first.
  view_.SetBeforeReadHook([this] {
    if (!picking_) SyncAll();
  });
}

Result<std::unique_ptr<CheckerSet>> CheckerSet::Create(uv_loop_s* loop, HealthShm shm,
                                                       Options options) {
  if (loop == nullptr) return Result<std::unique_ptr<CheckerSet>>::Error("no loop given");
  return std::unique_ptr<CheckerSet>(new CheckerSet(loop, std::move(shm), std::move(options)));
}

CheckerSet::~CheckerSet() {
  view_.SetBeforeReadHook(nullptr);
  checkers_.clear();  // each stops and gives its handles back to the loop
}

Status CheckerSet::AddUpstream(std::string name, std::vector<PeerConfig> primary,
                               std::vector<PeerConfig> backup, std::optional<CheckOptions> check) {
  if (Status st = view_.AddUpstream(name, std::move(primary), std::move(backup)); !st.ok()) {
    return st;
  }
  if (!check) return Status::Ok();
  check->shm = shm_.name();
  check->upstream = name;
  CheckerEnv env;
  env.loop = loop_;
  env.shm_name = shm_.name();
  env.dict = &shm_.segment().dict();
  env.upstreams = &view_;
  env.logger = &options_.logger;
  env.debug_events = options_.logger.enabled(LogLevel::kDebug);
  env.on_check = options_.on_check;
  env.on_cycle = options_.on_cycle;
  Result<std::unique_ptr<Checker>> checker = Checker::Spawn(env, *check);
  if (!checker.ok()) {
    return Status::Error("upstream " + name +
                         ": failed to spawn health checker: " + checker.error());
  }
  checkers_.emplace(std::move(name), std::move(*checker));
  return Status::Ok();
}

Status CheckerSet::AddUpstreams(const Config& config) {
  if (config.shm.name != shm_.name()) {
    return Status::Error("config names shm \"" + config.shm.name + "\" but this set runs on \"" +
                         shm_.name() + "\"");
  }
  for (const UpstreamConfig& u : config.upstreams) {
    std::vector<PeerConfig> primary, backup;
    for (const ConfigPeer& p : u.primary) primary.push_back({p.address, p.down});
    for (const ConfigPeer& p : u.backup) backup.push_back({p.address, p.down});
    if (Status st = AddUpstream(u.name, std::move(primary), std::move(backup), u.check); !st) {
      return st;
    }
  }
  return Status::Ok();
}

void CheckerSet::SyncAll() {
  for (const auto& [name, checker] : checkers_) checker->SyncNow();
}

std::optional<PeerInfo> CheckerSet::Pick(std::string_view upstream) {
  if (auto it = checkers_.find(upstream); it != checkers_.end()) it->second->SyncNow();
  picking_ = true;
  std::optional<PeerInfo> peer = view_.Pick(upstream);
  picking_ = false;
  return peer;
}

void CheckerSet::Stop() {
  for (const auto& [name, checker] : checkers_) checker->Stop();
}

}  // namespace upcheck
