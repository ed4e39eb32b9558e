#include "upcheck/checker_set.h"

#include <unistd.h>

#include <string>
#include <utility>

#include "upcheck/internal/admin_sync.h"
#include "upcheck/internal/checker_internals.h"
#include "upcheck/internal/fleet_tier.h"
#include "upcheck/internal/registry.h"
#include "upcheck/internal/status_details.h"
#include "upcheck/status_pages.h"

namespace upcheck {

struct CheckerSet::Host {
  Registry registry;
  std::optional<uint32_t> slot;  // this process's row of the worker table, if it got one
  AdminSync admin{registry};     // operators' overrides, applied before every pick
};

CheckerSet::CheckerSet(uv_loop_s* loop, HealthShm shm, Options options)
    : loop_(loop), shm_(std::move(shm)), options_(std::move(options)) {
  // Status pages read the whole view: bring every upstream up to date first.
  view_.SetBeforeReadHook([this] {
    if (!picking_) SyncAll();
  });
  if (options_.on_peer_change) view_.SetPeerChangeHook(options_.on_peer_change);
  Result<Registry> registry = Registry::Attach(shm_.segment());
  if (!registry.ok()) return;  // a dict-only segment (HealthShm::Create): nothing to record
  host_ = std::make_unique<Host>(Host{*registry, std::nullopt, AdminSync(*registry)});
  // A host's master may not release the rows of workers that died (nginx's cannot).
  host_->registry.ReclaimDeadWorkerSlots();
  Result<uint32_t> slot = host_->registry.ClaimWorkerSlot(getpid());
  if (!slot.ok()) {
    options_.logger.Warn("upcheck: not in the worker table: " + slot.error());
    return;
  }
  host_->slot = *slot;
  host_->registry.SetWorkerState(*slot, WorkerState::kRunning);
}

Result<std::unique_ptr<CheckerSet>> CheckerSet::Create(uv_loop_s* loop, HealthShm shm,
                                                       Options options) {
  if (loop == nullptr) return Result<std::unique_ptr<CheckerSet>>::Error("no loop given");
  // Before the set: a set that cannot be made takes no row of the worker table.
  std::unique_ptr<FleetTier> fleet;
  if (options.fleet) {
    Result<std::unique_ptr<FleetTier>> tier = CreateRedisFleet(loop, *options.fleet);
    if (!tier.ok()) return Result<std::unique_ptr<CheckerSet>>::Error("fleet: " + tier.error());
    fleet = std::move(*tier);
  }
  std::unique_ptr<CheckerSet> set(new CheckerSet(loop, std::move(shm), std::move(options)));
  set->fleet_ = std::move(fleet);
  return set;
}

CheckerSet::~CheckerSet() {
  view_.SetBeforeReadHook(nullptr);
  view_.SetPeerChangeHook(nullptr);
  by_index_.clear();
  checkers_.clear();  // each stops and gives its handles back to the loop
  fleet_.reset();     // its connection and timers, once no checker uses it
  if (host_ && host_->slot) host_->registry.ReleaseWorkerSlot(*host_->slot);
}

Status CheckerSet::AddUpstream(std::string name, std::vector<PeerConfig> primary,
                               std::vector<PeerConfig> backup, std::optional<CheckOptions> check) {
  if (Status st = view_.AddUpstream(name, std::move(primary), std::move(backup)); !st.ok()) {
    return st;
  }
  by_index_.push_back(nullptr);
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
  env.on_fleet = options_.on_fleet;
  CheckerInternals internals;
  internals.fleet = fleet_.get();
  if (host_) {
    Registry* registry = &host_->registry;
    if (std::optional<size_t> u = registry->FindUpstream(name)) {
      internals.version_hint = registry->version_hint(*u);
    }
    env.on_check = [registry, then = options_.on_check](const PeerCheckEvent& e) {
      registry->RecordCheck(e);
      if (then) then(e);
    };
    env.on_skip = [registry](const PeerSkipEvent& e) { registry->RecordSkip(e); };
    env.on_fleet = [registry, then = options_.on_fleet](const FleetEvent& e) {
      registry->RecordFleet(e);
      if (then) then(e);
    };
    if (host_->slot) {
      env.on_cycle = [registry, slot = *host_->slot,
                      then = options_.on_cycle](const CycleEvent& e) {
        registry->RecordCycle(slot, e);
        if (then) then(e);
      };
    }
  }
  Result<std::unique_ptr<Checker>> checker = SpawnChecker(env, *check, internals);
  if (!checker.ok()) {
    return Status::Error("upstream " + name +
                         ": failed to spawn health checker: " + checker.error());
  }
  by_index_.back() = checker->get();
  checkers_.emplace(std::move(name), std::move(*checker));
  if (host_ && host_->slot) {
    host_->registry.SetWorkerCheckers(*host_->slot, static_cast<uint32_t>(checkers_.size()));
  }
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
  if (host_) host_->admin.SyncAll(view_);
}

void CheckerSet::SyncUpstream(size_t index) {
  if (index < by_index_.size() && by_index_[index] != nullptr) by_index_[index]->SyncNow();
  if (host_) host_->admin.Sync(view_, index);
}

std::optional<PeerInfo> CheckerSet::Pick(std::string_view upstream) {
  if (auto it = checkers_.find(upstream); it != checkers_.end()) it->second->SyncNow();
  if (host_) {
    for (size_t i = 0; i < view_.upstream_count(); ++i) {
      if (view_.upstream_name(i) == upstream) host_->admin.Sync(view_, i);
    }
  }
  picking_ = true;
  std::optional<PeerInfo> peer = view_.Pick(upstream);
  picking_ = false;
  return peer;
}

void CheckerSet::ReportPassive(std::string_view upstream, bool backup, uint32_t id,
                               PassiveResult result) {
  auto it = checkers_.find(upstream);
  if (it == checkers_.end()) return;
  const HealthTransition transition = it->second->ReportPassive(backup, id, result);
  if (host_) host_->registry.RecordPassive(upstream, backup, id, result, transition);
}

void CheckerSet::AppendStatus(StatusFormat format, std::string& out) {
  const Registry* registry = host_ ? &host_->registry : nullptr;
  switch (format) {
    case StatusFormat::kText:
      AppendStatusPage(out, view_);
      return;
    case StatusFormat::kPrometheus:
      // The view cannot fail to list its upstreams (status_pages.h).
      (void)AppendPrometheusStatusPage(out, view_);
      AppendUpcheckMetrics(out, view_, registry);
      return;
    case StatusFormat::kJson:
      AppendStatusJson(out, view_, registry, &shm_.segment().dict(), getpid());
      return;
  }
}

void CheckerSet::Stop() {
  for (const auto& [name, checker] : checkers_) checker->Stop();
  if (host_ && host_->slot) host_->registry.SetWorkerState(*host_->slot, WorkerState::kExiting);
}

}  // namespace upcheck
