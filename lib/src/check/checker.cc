// The original's protocol, step by step. Names follow healthcheck.lua so that a reader can
// hold this file against protocol.md: CheckPeersUpdates (§6.3), TryLock (§6.4), CheckPeers
// (§9), PeerOk/PeerFail (§7), SetPeerDownGlobally (§7.3), Publish (§6.2).
#include "upcheck/checker.h"

#include <uv.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "check/check_schedule.h"
#include "check/http_check.h"
#include "check/log_context.h"
#include "check/passive.h"
#include "check/probe_groups.h"
#include "check/probe_options_of.h"
#include "probe/prober.h"
#include "probe/tls_options.h"
#include "upcheck/internal/checker_internals.h"
#include "upcheck/log.h"
#include "upcheck/protocol_keys.h"
#include "upcheck/shared_dict.h"
#include "upcheck/upstreams.h"
#include "util/clock.h"

namespace upcheck {
namespace {

std::string Num(double v) { return FormatDictValue(v); }

// One peer as this checker sees it: the spawn-time snapshot (Q7) and the cached `down`.
struct PeerSlot {
  std::string name;
  bool backup = false;
  uint32_t id = 0;
  bool down = false;  // the cached state (protocol.md §5a)
  ProbeTarget target;
  std::string ok_key, nok_key, d_key;
  std::string next_key;  // the schedule's due key (written only with CheckSchedule::per_peer)
  bool flagged = false;  // down by a `d:` key (written or read), not only by the config
  std::string pf_key{}, ps_key{};  // passive checks' streak and last success
};

// A sequential run over the due peers [next, last] of one list.
struct GroupRun {
  std::vector<PeerSlot*>* peers = nullptr;
  uint32_t next = 0;
  uint32_t last = 0;
};

// The TLS keys beyond the original's (DESIGN §9). The files are loaded only when asked:
// Spawn loads them anyway when it builds the prober's TLS context.
Status ValidateTlsKeys(const CheckOptions& o, bool load_files) {
  bool tls = o.type == "https" || o.type == "tls";
  const std::pair<const char*, bool> keys[] = {{"tls_cert", o.tls_cert.has_value()},
                                               {"tls_key", o.tls_key.has_value()},
                                               {"alpn", o.alpn.has_value()},
                                               {"tls_min_version", o.tls_min_version.has_value()}};
  for (const auto& [key, given] : keys) {
    if (given && !tls) return Status::Error(TlsKeyNeedsTlsType(key));
  }
  if (o.tls_cert.has_value() != o.tls_key.has_value()) {
    return Status::Error(o.tls_cert ? "\"tls_cert\" option requires \"tls_key\""
                                    : "\"tls_key\" option requires \"tls_cert\"");
  }
  if (o.alpn) {
    if (Status st = CheckAlpnNames(*o.alpn); !st) return st;
  }
  if (o.tls_min_version) {
    if (Result<int> v = ParseTlsMinVersion(*o.tls_min_version); !v) return v.status();
  }
  if (load_files && o.tls_cert) return CheckClientCertificate(*o.tls_cert, *o.tls_key);
  return Status::Ok();
}

}  // namespace

class Checker::Impl {
 public:
  Impl(const CheckerEnv& env, const CheckerInternals& internals, std::string upstream)
      : env_(env), internals_(internals), upstream_(std::move(upstream)) {}

  Status Init(const CheckOptions& o);
  void Start(bool synchronous_first_cycle);
  void Stop();
  void SyncNow();
  void Detach() {
    detached_ = true;
    Stop();
  }

  const std::string& upstream() const { return upstream_; }
  double version() const { return version_; }
  HealthTransition ReportPassive(bool backup, uint32_t id, PassiveResult result);

 private:
  // Logging: the original's helpers, with its "healthcheck: " prefix.
  void Err(std::string_view msg) const;
  void Warn(std::string_view msg) const;
  bool debug() const { return env_.debug_events && env_.logger->enabled(LogLevel::kDebug); }
  void Debug(std::string_view msg) const;
  // A line about one peer: the original's text, then which upstream it belongs to.
  std::string AboutPeer(std::string msg) const {
    return std::move(msg.append(UpstreamLogContext(upstream_)));
  }
  std::string Transition(std::string msg) const;

  static void OnTimer(uv_timer_t* timer);
  static void OnClosed(uv_handle_t* handle);
  void RunCycle();
  void StartProbing();
  void FinishCycle();

  // The fleet tier (DESIGN §11), for the host's lock winner.
  // What a cycle's start needs beyond the fleet's answer (see PlanFleetCycle).
  enum class FleetPlan : uint8_t { kNothing, kStartVersion, kPublishOwn, kKeepOwn, kReadPeers };
  void BeginFleetCycle();
  void AskFleet(bool probing);
  void ResetFleetCycle(FleetRole role);
  bool HoldsFleetLock() const;
  bool HasUnpublished() const;
  void NoteFleetAnswer(const FleetCycle& cycle);
  void OnFleetCycle(FleetCycle cycle);
  void OnFleetAnswer(FleetCycle cycle);
  void EmitFleetEvent(const std::vector<FleetCopy>& copies);
  FleetPlan PlanFleetCycle() const;
  void ReadFleetPeers();
  FleetPeerState FleetStateOf(const PeerSlot& peer) const;
  std::vector<FleetPeerState> OwnFleetStates() const;
  void CopyFleet(const FleetSnapshot& fleet, std::vector<FleetCopy>& copies);
  void ContinueFleetCycle(const std::vector<FleetCopy>& copies);
  void PublishToFleet();
  void CopyStreak(const std::string& key, std::optional<double> fleet);
  bool SameForTheFleet(const FleetPeerState& a, const FleetPeerState& b) const;

  void CheckPeersUpdates();
  void UpgradePeersVersion(std::vector<PeerSlot>& peers);
  bool TryLock();
  void CheckPeers(std::vector<PeerSlot>& peers, bool backup);
  void RunGroup(size_t group);
  void OnProbeDone(size_t group, PeerSlot& peer, const ProbeResult& result);
  void PeerOk(PeerSlot& peer, const ProbeResult& result);
  bool SkipActive(const PeerSlot& peer);
  HealthTransition PassiveFail(PeerSlot& peer, PassiveResult result);
  void PeerFail(PeerSlot& peer, const ProbeResult& result);
  void SetPeerDownGlobally(PeerSlot& peer, bool down);
  void ReconcileDownKeys();
  std::optional<double> Counter(const std::string& key) const;
  void Publish();
  void Report(const PeerSlot& peer, const ProbeResult& result, PeerPhase phase,
              HealthTransition transition = HealthTransition::kUnchanged, double streak = 0);
  // Whether the peer's due key has expired (always, without per-peer intervals).
  bool IsDue(const PeerSlot& peer) const;
  // Draws the peer's next delay in `phase`, writes its due key if it needs one, and
  // returns when it is due, Unix ms.
  int64_t ScheduleNext(const PeerSlot& peer, PeerPhase phase);

  CheckerEnv env_;
  CheckerInternals internals_;
  std::string upstream_;
  std::string v_key_, l_key_;
  std::optional<CheckSchedule> schedule_;
  int64_t cycle_delay_ms_ = 1000;  // this cycle's drawn length: the timer's next delay
  uint64_t cycle_start_ms_ = 0;    // uv_now() when this cycle took the lock
  int64_t fall_ = 5, rise_ = 2, concurrency_ = 1;
  int64_t passive_fall_ = 0;
  bool skip_when_passing_ = false;
  std::vector<PeerSlot> primary_, backup_;
  std::unique_ptr<Prober> prober_;
  uv_timer_t timer_{};

  double version_ = 0;
  bool new_version_ = false;
  bool rewrite_down_keys_ = false;  // Q1: `v:` vanished; republish our `d:` view with it

  // The cycle in progress.
  bool in_cycle_ = false;
  bool locked_ = false;  // this cycle holds `l:` and probes
  bool probing_backups_ = false;
  std::vector<GroupRun> groups_;
  std::vector<PeerSlot*> due_;  // the list being probed: its peers that are due
  size_t groups_running_ = 0;

  // The fleet tier: the peers' names as the fleet keys them (primaries, then backups), this
  // cycle's role, and what the winner publishes at its end.
  std::vector<std::string> fleet_names_;
  std::string fv_key_, fr_key_, fh_key_, fu_key_, fk_key_;
  FleetRole fleet_role_ = FleetRole::kNone;
  bool fleet_changed_ = false;               // a peer changed state: the version moves
  std::optional<double> fleet_set_version_;  // after a flush: the version to start from
  std::vector<FleetPeerState> fleet_seen_;   // what the fleet had at the cycle's start
  FleetCycle fleet_cycle_;                   // the fleet's answer to this cycle's start
  bool fleet_fell_back_ = false, fleet_rejoined_ = false;
  // A winner that started probing at once waits for the fleet's answer to end its cycle.
  bool fleet_answer_pending_ = false, fleet_finish_waiting_ = false;
  // A winner whose hold outlasts this cycle did not ask: it asks at the end only to publish.
  bool fleet_unasked_ = false;
  uint64_t fleet_asked_ms_ = 0;  // loop time of this cycle's start request
  // Fleet callbacks may come after this Impl is gone: they hold a weak reference to this.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  enum class TimerState : uint8_t { kNone, kOpen, kClosing, kClosed };
  bool stopped_ = false;
  bool detached_ = false;  // the Checker is gone: free once the timer is closed
  TimerState timer_state_ = TimerState::kNone;
};

void Checker::Impl::Err(std::string_view msg) const {
  if (env_.logger->enabled(LogLevel::kError)) {
    env_.logger->Error(std::string("healthcheck: ").append(msg));
  }
}
void Checker::Impl::Warn(std::string_view msg) const {
  if (env_.logger->enabled(LogLevel::kWarn)) {
    env_.logger->Warn(std::string("healthcheck: ").append(msg));
  }
}
void Checker::Impl::Debug(std::string_view msg) const {
  env_.logger->Debug(std::string("healthcheck: ").append(msg));
}

// REQUIRES: the peer's `down` already moved, so the count is the view after the transition.
std::string Checker::Impl::Transition(std::string msg) const {
  size_t up = static_cast<size_t>(
      std::count_if(primary_.begin(), primary_.end(), [](const PeerSlot& p) { return !p.down; }));
  return std::move(msg.append(TransitionLogContext(upstream_, up, primary_.size())));
}

Status Checker::Impl::Init(const CheckOptions& o) {
  Result<std::vector<PeerInfo>> primary = env_.upstreams->GetPrimaryPeers(upstream_);
  if (!primary.ok()) return Status::Error("failed to get primary peers: " + primary.error());
  Result<std::vector<PeerInfo>> backup = env_.upstreams->GetBackupPeers(upstream_);
  if (!backup.ok()) return Status::Error("failed to get backup peers: " + backup.error());
  if (o.timeout_ms && *o.timeout_ms < 0) return Status::Error("\"timeout\" option must be >= 0");
  if (Status st = ValidateTlsKeys(o, false); !st) return st;
  if (Status st = ValidateScheduleOptions(o); !st) return st;

  schedule_.emplace(o);
  cycle_delay_ms_ = schedule_->cycle_ms();
  fall_ = o.fall.value_or(5);
  rise_ = o.rise.value_or(2);
  concurrency_ = o.concurrency.value_or(1);
  if (o.passive) {
    passive_fall_ = o.passive->fall;
    skip_when_passing_ = o.passive->skip_active_when_passing;
  }
  v_key_ = VersionKey(upstream_);
  l_key_ = LockKey(upstream_);
  fv_key_ = UpstreamKey(KeyFamily::kFleetVersion, upstream_);
  fr_key_ = UpstreamKey(KeyFamily::kFleetRole, upstream_);
  fh_key_ = UpstreamKey(KeyFamily::kFleetHolder, upstream_);
  fu_key_ = UpstreamKey(KeyFamily::kFleetUnpublished, upstream_);
  fk_key_ = UpstreamKey(KeyFamily::kFleetHold, upstream_);

  std::optional<int> port;
  if (o.port) port = static_cast<int>(*o.port);
  auto fill = [&](const std::vector<PeerInfo>& from, bool is_backup,
                  std::vector<PeerSlot>& to) -> Status {
    for (const PeerInfo& p : from) {
      Result<ProbeTarget> target = MakeProbeTarget(p.name, p.address, port);
      if (!target.ok()) return Status::Error("bad peer " + p.name + ": " + target.error());
      to.push_back(PeerSlot{p.name, is_backup, p.id, p.down, std::move(*target),
                            PeerKey(KeyFamily::kOk, upstream_, is_backup, p.id),
                            PeerKey(KeyFamily::kNok, upstream_, is_backup, p.id),
                            PeerKey(KeyFamily::kDown, upstream_, is_backup, p.id),
                            PeerKey(KeyFamily::kNext, upstream_, is_backup, p.id)});
      to.back().pf_key = PeerKey(KeyFamily::kPassiveFail, upstream_, is_backup, p.id);
      to.back().ps_key = PeerKey(KeyFamily::kPassiveOk, upstream_, is_backup, p.id);
    }
    return Status::Ok();
  };
  if (Status st = fill(*primary, false, primary_); !st) return st;
  if (Status st = fill(*backup, true, backup_); !st) return st;
  for (const auto* list : {&primary_, &backup_}) {
    for (const PeerSlot& p : *list) fleet_names_.push_back(p.name);
  }

  Result<std::unique_ptr<Prober>> prober = Prober::Create(env_.loop, ProbeOptionsOf(o));
  if (!prober.ok()) return prober.status();
  prober_ = std::move(*prober);

  int rc = uv_timer_init(env_.loop, &timer_);
  if (rc != 0) return Status::Error(std::string("failed to create timer: ") + uv_strerror(rc));
  timer_.data = this;
  timer_state_ = TimerState::kOpen;
  return Status::Ok();
}

void Checker::Impl::Start(bool synchronous_first_cycle) {
  if (!synchronous_first_cycle) {
    uv_timer_start(&timer_, &Impl::OnTimer, 0, 0);
    return;
  }
  // no_timer: one whole cycle now, driving the caller's loop until it ends (Q28).
  RunCycle();
  while (in_cycle_ && !stopped_) uv_run(env_.loop, UV_RUN_ONCE);
}

void Checker::Impl::Stop() {
  if (!stopped_) {
    stopped_ = true;
    if (prober_) prober_->Shutdown();
    in_cycle_ = false;
    // A `d:` key written in the cycle cut short must not stay unpublished (Q35): no other
    // view would ever read it.
    Publish();
  }
  if (timer_state_ == TimerState::kOpen) {
    timer_state_ = TimerState::kClosing;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &Impl::OnClosed);
  } else if (detached_ && timer_state_ != TimerState::kClosing) {
    delete this;  // no handle left to wait for
  }
}

// libuv's contract: the handle's memory may go only once its close callback ran.
void Checker::Impl::OnClosed(uv_handle_t* handle) {
  auto* self = static_cast<Impl*>(handle->data);
  self->timer_state_ = TimerState::kClosed;
  if (self->detached_) delete self;
}

void Checker::Impl::OnTimer(uv_timer_t* timer) { static_cast<Impl*>(timer->data)->RunCycle(); }

// do_check(), first half (§6.2).
void Checker::Impl::RunCycle() {
  if (stopped_) return;
  in_cycle_ = true;
  if (debug()) Debug("healthcheck: run a check cycle");  // sic: double prefix (Q12)
  CheckPeersUpdates();
  bool locked = TryLock();
  locked_ = locked;
  if (env_.on_cycle) env_.on_cycle(CycleEvent{upstream_, false, locked, version_});
  if (!locked) {
    FinishCycle();
    return;
  }
  if (internals_.fleet != nullptr) {
    BeginFleetCycle();
    return;
  }
  StartProbing();
}

void Checker::Impl::StartProbing() {
  probing_backups_ = false;
  CheckPeers(primary_, false);
}

// do_check(), second half: publish, then re-arm after the cycle (§6.1).
void Checker::Impl::FinishCycle() {
  if (std::exchange(fleet_unasked_, false) && fleet_changed_ && !stopped_) {
    // The version moves: ask first, as a start that probed at once does, so that a flush
    // or a lapse since the last answer is seen before anything is published.
    AskFleet(true);
  }
  if (fleet_answer_pending_) {
    fleet_finish_waiting_ = true;  // the fleet's answer (or its timeout) ends the cycle
    return;
  }
  if (locked_) ReconcileDownKeys();
  locked_ = false;
  Publish();
  if (fleet_role_ == FleetRole::kWinner && !stopped_) PublishToFleet();
  fleet_role_ = FleetRole::kNone;
  in_cycle_ = false;
  if (env_.on_cycle) env_.on_cycle(CycleEvent{upstream_, true, false, version_});
  if (!stopped_) {
    uv_timer_start(&timer_, &Impl::OnTimer, static_cast<uint64_t>(cycle_delay_ms_), 0);
  }
}

void Checker::Impl::SyncNow() {
  if (stopped_) return;
  if (internals_.version_hint != nullptr &&
      std::bit_cast<double>(internals_.version_hint->load(std::memory_order_acquire)) == version_) {
    return;
  }
  CheckPeersUpdates();
}

// §6.3, with Q1 fixed: upgrade whenever the shared version differs from ours.
void Checker::Impl::CheckPeersUpdates() {
  Result<std::optional<DictValue>> ver = env_.dict->Get(v_key_);
  if (!ver.ok()) {
    Err("failed to get peers version: " + ver.error());
    return;
  }
  if (!ver->has_value()) {
    if (version_ > 0) {
      new_version_ = true;
      rewrite_down_keys_ = true;
    }
    return;
  }
  const double* v = std::get_if<double>(&**ver);
  if (v == nullptr) return;
  // A hint behind the dict (a persisted segment) would send every SyncNow() to the dict:
  // raise it so the fast path holds again. Only raise: a racing publisher's newer value
  // must win, and Publish() itself stores lower values after a flush.
  if (internals_.version_hint != nullptr) {
    uint64_t seen = internals_.version_hint->load(std::memory_order_relaxed);
    while (std::bit_cast<double>(seen) < *v &&
           !internals_.version_hint->compare_exchange_weak(seen, std::bit_cast<uint64_t>(*v),
                                                           std::memory_order_release)) {
    }
  }
  if (*v == version_) return;
  if (debug()) Debug("upgrading peers version to " + Num(*v));
  UpgradePeersVersion(primary_);
  UpgradePeersVersion(backup_);
  version_ = *v;
}

void Checker::Impl::UpgradePeersVersion(std::vector<PeerSlot>& peers) {
  for (PeerSlot& p : peers) {
    Result<std::optional<DictValue>> flag = env_.dict->Get(p.d_key);
    bool down = false;
    if (!flag.ok()) {
      Err("failed to get peer down state: " + flag.error());
    } else {
      down = IsDownFlag(*flag);
    }
    p.flagged = down;
    if (p.down == down) continue;
    Status st = env_.upstreams->SetPeerDown(upstream_, p.backup, p.id, down);
    if (!st.ok()) {
      Err("failed to set peer down: " + st.message());  // the cache stays (Q32)
    } else {
      p.down = down;
    }
  }
}

// §6.4: the lock is an add with a TTL; it is never released, only expires (Q25). The TTL
// follows the cycle, not the interval: the holder takes the lock for the cycle it drew
// (the shortest of interval, fastinter and downinter, jittered) minus 1 ms, and re-arms
// after that cycle, so that it can always take the lock again, as in the original. The
// others keep ticking every undrawn cycle. Without the new keys this is interval - 1 ms.
bool Checker::Impl::TryLock() {
  const int64_t cycle = schedule_->DrawCycleMs();
  cycle_delay_ms_ = schedule_->cycle_ms();
  DictStoreResult r = env_.dict->Add(l_key_, DictValue(true), LockTtlMs(cycle));
  if (r.ok()) {
    cycle_delay_ms_ = cycle;
    cycle_start_ms_ = uv_now(env_.loop);
    return true;
  }
  if (r.status.message() != "exists") {
    Err("failed to add key \"" + l_key_ + "\": " + r.status.message());
  }
  return false;
}

// §9: all groups of one list run at once; the list is done when every group is. Only the
// peers that are due are probed, grouped among themselves: with every peer due (always,
// without per-peer intervals) the groups and their debug lines are the original's.
void Checker::Impl::CheckPeers(std::vector<PeerSlot>& peers, bool backup) {
  due_.clear();
  for (PeerSlot& p : peers) {
    if (IsDue(p)) due_.push_back(&p);
  }
  ProbeGroupPlan plan = PlanProbeGroups(static_cast<uint32_t>(due_.size()), concurrency_);
  if (plan.groups.empty()) {
    if (!backup) {
      probing_backups_ = true;
      CheckPeers(backup_, true);
    } else {
      FinishCycle();
    }
    return;
  }
  groups_.clear();
  for (const ProbeGroup& g : plan.groups) groups_.push_back(GroupRun{&due_, g.first, g.last});
  groups_running_ = groups_.size();
  for (size_t k = 0; k < plan.groups.size(); ++k) {
    if (!plan.sequential && debug()) Debug(ProbeGroupDebugLine(plan, plan.groups[k], backup));
    RunGroup(k);
    if (stopped_) return;
  }
}

void Checker::Impl::RunGroup(size_t k) {
  if (stopped_) return;  // Stop() published; the rest of the cycle is dropped
  GroupRun& g = groups_[k];
  while (g.next <= g.last && SkipActive(*(*g.peers)[g.next])) ++g.next;
  if (g.next > g.last) {
    if (--groups_running_ > 0) return;
    if (!probing_backups_) {
      probing_backups_ = true;
      CheckPeers(backup_, true);
    } else {
      FinishCycle();
    }
    return;
  }
  PeerSlot& peer = *(*g.peers)[g.next++];
  if (internals_.test_hook) internals_.test_hook("probing");
  Status st = prober_->Start(
      peer.target, [this, k, &peer](const ProbeResult& result) { OnProbeDone(k, peer, result); });
  if (!st.ok()) {
    // The prober is shut down: this checker is stopping.
    return;
  }
}

void Checker::Impl::OnProbeDone(size_t k, PeerSlot& peer, const ProbeResult& result) {
  if (stopped_) return;
  if (!result.counted()) {
    Err(AboutPeer(result.message));  // failed to create stream socket: not counted (Q17)
  } else if (!result.parse_error.empty()) {
    Err(AboutPeer("failed to parse status line: " + result.parse_error));
  }
  if (result.counted()) {
    if (result.ok()) {
      PeerOk(peer, result);
    } else {
      // §7.5: a peer this checker sees as down fails silently.
      if (!peer.down) Err(AboutPeer(result.message));
      PeerFail(peer, result);
    }
  }
  RunGroup(k);
}

// §7.1
void Checker::Impl::PeerFail(PeerSlot& peer, const ProbeResult& result) {
  if (debug()) Debug(AboutPeer("peer " + peer.name + " was checked to be not ok"));
  SharedDict& dict = *env_.dict;
  Result<std::optional<DictValue>> got = dict.Get(peer.nok_key);
  if (!got.ok()) {
    Err("failed to get peer nok key: " + got.error());
    return Report(peer, result, peer.down ? PeerPhase::kDown : PeerPhase::kBetween);
  }
  double fails = 1;
  const double* prev = got->has_value() ? std::get_if<double>(&**got) : nullptr;
  if (prev == nullptr) {
    DictStoreResult r = dict.Set(peer.nok_key, DictValue(1.0));
    if (!r.ok()) Err("failed to set peer nok key: " + r.status.message());
  } else {
    fails = *prev + 1;  // local arithmetic; the incr result is not used (Q4)
    Result<double> r = dict.Incr(peer.nok_key, 1);
    if (!r.ok()) Err("failed to incr peer nok key: " + r.error());
  }
  if (fails == 1) {
    Result<std::optional<DictValue>> succ = dict.Get(peer.ok_key);
    if (!succ.ok()) {
      Err("failed to get peer ok key: " + succ.error());
      // before the transition test (Q31)
      return Report(peer, result, peer.down ? PeerPhase::kDown : PeerPhase::kBetween);
    }
    const double* s = succ->has_value() ? std::get_if<double>(&**succ) : nullptr;
    if (succ->has_value() && !(s != nullptr && *s == 0)) {
      DictStoreResult r = dict.Set(peer.ok_key, DictValue(0.0));
      if (!r.ok()) Err("failed to set peer ok key: " + r.status.message());
    }
  }
  HealthTransition transition = HealthTransition::kUnchanged;
  if (!peer.down && fails >= static_cast<double>(fall_)) {
    peer.down = true;
    Warn(Transition("peer " + peer.name + " is turned down after " + Num(fails) + " failure(s)"));
    SetPeerDownGlobally(peer, true);
    transition = HealthTransition::kTurnedDown;
  }
  Report(peer, result, peer.down ? PeerPhase::kDown : PeerPhase::kBetween, transition, fails);
}

// §7.2: the mirror of PeerFail.
void Checker::Impl::PeerOk(PeerSlot& peer, const ProbeResult& result) {
  if (debug()) Debug(AboutPeer("peer " + peer.name + " was checked to be ok"));
  SharedDict& dict = *env_.dict;
  Result<std::optional<DictValue>> got = dict.Get(peer.ok_key);
  if (!got.ok()) {
    Err("failed to get peer ok key: " + got.error());
    return Report(peer, result, peer.down ? PeerPhase::kBetween : PeerPhase::kSteady);
  }
  double succ = 1;
  const double* prev = got->has_value() ? std::get_if<double>(&**got) : nullptr;
  if (prev == nullptr) {
    DictStoreResult r = dict.Set(peer.ok_key, DictValue(1.0));
    if (!r.ok()) Err("failed to set peer ok key: " + r.status.message());
  } else {
    succ = *prev + 1;
    Result<double> r = dict.Incr(peer.ok_key, 1);
    if (!r.ok()) Err("failed to incr peer ok key: " + r.error());
  }
  if (succ == 1) {
    Result<std::optional<DictValue>> fails = dict.Get(peer.nok_key);
    if (!fails.ok()) {
      Err("failed to get peer nok key: " + fails.error());
      return Report(peer, result, peer.down ? PeerPhase::kBetween : PeerPhase::kSteady);
    }
    const double* f = fails->has_value() ? std::get_if<double>(&**fails) : nullptr;
    if (fails->has_value() && !(f != nullptr && *f == 0)) {
      DictStoreResult r = dict.Set(peer.nok_key, DictValue(0.0));
      if (!r.ok()) Err("failed to set peer nok key: " + r.status.message());
    }
  }
  HealthTransition transition = HealthTransition::kUnchanged;
  if (peer.down && succ >= static_cast<double>(rise_)) {
    peer.down = false;
    Warn(Transition("peer " + peer.name + " is turned up after " + Num(succ) + " success(es)"));
    SetPeerDownGlobally(peer, false);
    // A streak that turned it down must not turn it down again at the next failure.
    if (passive_fall_ > 0) (void)dict.Set(peer.pf_key, DictValue(0.0));
    transition = HealthTransition::kTurnedUp;
  }
  Report(peer, result, peer.down ? PeerPhase::kBetween : PeerPhase::kSteady, transition, succ);
}

// skip_active_when_passing: an up peer whose last passive success is still remembered
// (ReportPassive) is not probed this cycle; its ok/nok counters stay as they are.
bool Checker::Impl::SkipActive(const PeerSlot& peer) {
  if (!skip_when_passing_ || peer.down || !PassedRecently(*env_.dict, peer.ps_key)) return false;
  if (debug()) Debug(AboutPeer("peer " + peer.name + " passes real traffic: probe skipped"));
  if (env_.on_skip) env_.on_skip(PeerSkipEvent{upstream_, peer.backup, peer.id, peer.name});
  return true;
}

HealthTransition Checker::Impl::ReportPassive(bool backup, uint32_t id, PassiveResult result) {
  std::vector<PeerSlot>& peers = backup ? backup_ : primary_;
  if (stopped_ || id >= peers.size() || (passive_fall_ <= 0 && !skip_when_passing_)) {
    return HealthTransition::kUnchanged;
  }
  PeerSlot& peer = peers[id];
  if (result != PassiveResult::kOk) return PassiveFail(peer, result);
  // Two intervals: the next cycle starts an interval after this one ends, so a success
  // reported just after the end must outlive that start.
  const int64_t remember_ms =
      skip_when_passing_ ? 2 * schedule_->IntervalFor(PeerPhase::kSteady) : 0;
  Status st = CountPassiveSuccess(*env_.dict, peer.pf_key, peer.ps_key, remember_ms);
  if (!st.ok()) Err("failed to set peer passive keys: " + st.message());
  return HealthTransition::kUnchanged;
}

// A turn-down as PeerFail's, from the streak every worker's balancer adds to.
HealthTransition Checker::Impl::PassiveFail(PeerSlot& peer, PassiveResult result) {
  Result<double> fails = CountPassiveFailure(*env_.dict, peer.pf_key);
  if (!fails.ok()) {
    Err("failed to incr peer passive key: " + fails.error());
    return HealthTransition::kUnchanged;
  }
  if (debug()) {
    Debug(AboutPeer("peer " + peer.name +
                    " failed on real traffic: " + std::string(PassiveResultName(result))));
  }
  if (passive_fall_ <= 0 || *fails < static_cast<double>(passive_fall_)) {
    return HealthTransition::kUnchanged;
  }
  CheckPeersUpdates();  // another worker's report may have turned it down already
  if (peer.down) return HealthTransition::kUnchanged;
  peer.down = true;
  Warn(Transition("peer " + peer.name + " is turned down after " + Num(*fails) +
                  " passive failure(s)"));
  SetPeerDownGlobally(peer, true);
  // The active checks bring it back after `rise` successes counted from now.
  (void)env_.dict->Set(peer.ok_key, DictValue(0.0));
  Publish();  // now: a passive report needs no cycle, and other workers sync by version
  return HealthTransition::kTurnedDown;
}

// §7.3
void Checker::Impl::SetPeerDownGlobally(PeerSlot& peer, bool down) {
  Status st = env_.upstreams->SetPeerDown(upstream_, peer.backup, peer.id, down);
  if (!st.ok()) Err("failed to set peer down: " + st.message());
  new_version_ = true;
  if (fleet_role_ == FleetRole::kWinner) fleet_changed_ = true;
  peer.flagged = down;
  // set(key, nil) deletes (§5): an up peer has no `d:` key.
  Status stored =
      down ? env_.dict->Set(peer.d_key, DictValue(true)).status : env_.dict->Delete(peer.d_key);
  if (!stored.ok()) Err("failed to set peer down state: " + stored.message());
  if (internals_.test_hook) internals_.test_hook("after_d_write");
}

// A counter's value, or nothing when it is missing, not a number or unreadable.
std::optional<double> Checker::Impl::Counter(const std::string& key) const {
  Result<std::optional<DictValue>> got = env_.dict->Get(key);
  if (!got.ok() || !got->has_value()) return std::nullopt;
  const double* v = std::get_if<double>(&**got);
  return v == nullptr ? std::nullopt : std::optional<double>(*v);
}

// The lock holder, whose view is the freshest, brings every `d:` key back in line with the
// shared counters, and publishes if it changed one. Two ways a key can be wrong while `v:`
// stays, so that nobody re-reads it:
// - Q24: a down peer's key was evicted (a full dict) or deleted. It is written back while
//   `nok:` >= fall (the last fall probes, whoever made them, failed), and only for a peer
//   our view has down by a flag (a configured-down peer never had a key). The `nok:` test
//   keeps a stale view from undoing a turn-up that an overlapping cycle (Q3) just made.
// - Q35: a worker died (or stopped) between its `d:` write and its publish. Its down flag
//   is shared by no view, and PeerOk turns a peer up only when the view says down, so
//   nothing would ever delete it. A down key of a peer our view has up is deleted while
//   `ok:` >= rise (the last rise probes passed), the mirror of the rule above.
// One or two gets per peer per cycle, in one process.
void Checker::Impl::ReconcileDownKeys() {
  const double failing = static_cast<double>(std::max<int64_t>(fall_, 1));
  const double passing = static_cast<double>(std::max<int64_t>(rise_, 1));
  for (auto* list : {&primary_, &backup_}) {
    for (PeerSlot& p : *list) {
      Result<std::optional<DictValue>> flag = env_.dict->Get(p.d_key);
      if (!flag.ok()) continue;
      const bool key_down = IsDownFlag(*flag);
      if (!flag->has_value() && p.down && p.flagged) {
        if (Counter(p.nok_key).value_or(0) < failing) continue;
        DictStoreResult r = env_.dict->Set(p.d_key, DictValue(true));
        if (!r.ok()) Err("failed to set peer down state: " + r.status.message());
        new_version_ = true;
      } else if (key_down && !p.down) {
        if (Counter(p.ok_key).value_or(0) < passing) continue;
        Status st = env_.dict->Delete(p.d_key);
        if (!st.ok()) Err("failed to set peer down state: " + st.message());
        p.flagged = false;
        new_version_ = true;
      }
    }
  }
}

// §6.2's publish, with Q2 fixed (a failure keeps the version and retries next cycle) and
// Q1's fuller fix (after `v:` vanished, our `d:` view is written back before publishing).
void Checker::Impl::Publish() {
  if (!new_version_) return;
  if (internals_.test_hook) internals_.test_hook("before_publish");
  if (debug()) Debug("publishing peers version " + Num(version_ + 1));  // predicted (Q13)
  if (rewrite_down_keys_) {
    // Only the peers down by a flag: one down by the config alone never had a key, and
    // every upgrade turns it up (Q5).
    for (auto* list : {&primary_, &backup_}) {
      for (const PeerSlot& p : *list) {
        Status st = p.down && p.flagged ? env_.dict->Set(p.d_key, DictValue(true)).status
                                        : env_.dict->Delete(p.d_key);
        if (!st.ok()) Err("failed to set peer down state: " + st.message());
      }
    }
  }
  env_.dict->Add(v_key_, DictValue(0.0));  // result ignored (Q21)
  Result<double> v = env_.dict->Incr(v_key_, 1);
  if (!v.ok()) {
    Err("failed to publish new peers version: " + v.error());
    return;
  }
  // Q3's lost update, fixed as protocol.md suggests: the original adopts whatever incr
  // returns, but when cycles overlap another worker may have published in between, and
  // adopting its number would hide its change from this view for good (the versions
  // match, so no upgrade ever reads its d: keys): the balancer would keep sending traffic
  // to a peer the other worker turned down. Adopt only our own successor; otherwise
  // upgrade now, re-reading every d: key (ours included: written before the incr).
  const bool lost_update = *v != version_ + 1;
  if (!lost_update) version_ = *v;
  new_version_ = false;
  rewrite_down_keys_ = false;
  if (internals_.version_hint != nullptr) {
    internals_.version_hint->store(std::bit_cast<uint64_t>(*v), std::memory_order_release);
  }
  if (lost_update) CheckPeersUpdates();
}

// ---- The fleet tier (DESIGN §11) --------------------------------------------------------

// This host holds its own lock: ask the fleet whether it probes. A winner that surely
// still holds the fleet lock probes at once, the round trip in flight, and the answer only
// extends the hold and confirms (OnFleetAnswer): no other host can have published since
// its last publish. If the hold outlasts the next start too, it does not ask at all: a
// steady fleet costs its winner one round trip every other cycle.
void Checker::Impl::BeginFleetCycle() {
  if (!HoldsFleetLock()) return AskFleet(false);
  ResetFleetCycle(FleetRole::kWinner);
  fleet_seen_ = OwnFleetStates();
  Result<int64_t> left = env_.dict->Ttl(fk_key_);
  fleet_unasked_ = left.ok() && *left > cycle_delay_ms_;
  if (!fleet_unasked_) AskFleet(true);
  StartProbing();
}

// The cycle's start request. The lock's TTL is the local one: the fleet's winner re-arms
// after the cycle it drew, as a host's does. A lock it wins is held for two cycles and a
// half: past this worker's next start (its timer re-arms after the cycle ends) and the one
// after, which need not ask; a winner that dies is replaced when that hold runs out.
void Checker::Impl::AskFleet(bool probing) {
  std::weak_ptr<bool> alive = alive_;
  const int64_t hold_ms = 2 * cycle_delay_ms_ + cycle_delay_ms_ / 2;
  fleet_asked_ms_ = uv_now(env_.loop);
  fleet_answer_pending_ = probing;
  internals_.fleet->BeginCycle(upstream_, LockTtlMs(cycle_delay_ms_), hold_ms,
                               [this, alive, probing](FleetCycle cycle) {
                                 if (alive.expired() || stopped_) return;
                                 if (probing) return OnFleetAnswer(std::move(cycle));
                                 OnFleetCycle(std::move(cycle));
                               });
}

void Checker::Impl::ResetFleetCycle(FleetRole role) {
  fleet_role_ = role;
  fleet_changed_ = false;
  fleet_set_version_.reset();
  fleet_seen_.clear();
}

// `fk:` lives while the fleet lock is surely this host's (NoteFleetAnswer), and nothing of
// this host's waits to be published.
bool Checker::Impl::HoldsFleetLock() const {
  Result<std::optional<DictValue>> hold = env_.dict->Get(fk_key_);
  return hold.ok() && hold->has_value() && !HasUnpublished();
}

// `fu:`: a change this host made that the fleet has not confirmed.
bool Checker::Impl::HasUnpublished() const {
  Result<std::optional<DictValue>> fu = env_.dict->Get(fu_key_);
  return fu.ok() && fu->has_value();
}

// What every answer leaves in the dict: the last role and holder, a fallback or a return
// said once per host, and `fk:` for as long as the lock is surely still this host's when
// its next cycle asks (less the round trip it took, twice, and a quarter cycle).
void Checker::Impl::NoteFleetAnswer(const FleetCycle& cycle) {
  // The last role lives in the dict: the host's lock winner changes from cycle to cycle,
  // and a fallback is said once per host, not once per worker.
  const auto before = static_cast<FleetRole>(static_cast<int>(Counter(fr_key_).value_or(0)));
  if (before != cycle.role) {
    (void)env_.dict->Set(fr_key_, DictValue(static_cast<double>(cycle.role)));
  }
  if (!cycle.holder.empty()) (void)env_.dict->Set(fh_key_, DictValue(cycle.holder));
  const bool alone = cycle.role == FleetRole::kAlone;
  fleet_fell_back_ = alone && before != FleetRole::kAlone;
  fleet_rejoined_ = !alone && before == FleetRole::kAlone;
  if (fleet_fell_back_) {
    Warn("fleet: " + cycle.error + "; probing alone" + UpstreamLogContext(upstream_));
  }
  if (fleet_rejoined_) {
    Warn("fleet: redis answers again; back in the fleet as its " +
         std::string(FleetRoleName(cycle.role)) + UpstreamLogContext(upstream_));
  }
  const auto round_trip = static_cast<int64_t>(uv_now(env_.loop) - fleet_asked_ms_);
  const int64_t sure_ms = cycle.lock_ttl_ms - 2 * round_trip - cycle_delay_ms_ / 4;
  if (cycle.role == FleetRole::kWinner && sure_ms > 0) {
    (void)env_.dict->Set(fk_key_, DictValue(true), sure_ms);
  } else {
    (void)env_.dict->Delete(fk_key_);
  }
}

void Checker::Impl::OnFleetCycle(FleetCycle cycle) {
  NoteFleetAnswer(cycle);
  ResetFleetCycle(cycle.role);
  fleet_cycle_ = std::move(cycle);
  switch (PlanFleetCycle()) {
    case FleetPlan::kStartVersion:
      fleet_set_version_ = Counter(fv_key_).value_or(0) + 1;
      break;
    case FleetPlan::kPublishOwn:
      fleet_changed_ = true;
      break;
    case FleetPlan::kKeepOwn:
      fleet_seen_ = OwnFleetStates();
      break;
    case FleetPlan::kReadPeers:
      return ReadFleetPeers();
    case FleetPlan::kNothing:
      break;
  }
  ContinueFleetCycle({});
}

// The answer to a start that probed at once. A winner whose version is the fleet's
// publishes as it would have; one that finds no version sets it (as after a flush), one
// that finds another version publishes its fresh view over it. Any other answer means the
// lock lapsed: this cycle's probes stay on this host, and a change among them waits in
// `fu:` for this host's next win.
void Checker::Impl::OnFleetAnswer(FleetCycle cycle) {
  fleet_answer_pending_ = false;
  NoteFleetAnswer(cycle);
  fleet_role_ = cycle.role;
  if (cycle.role == FleetRole::kWinner) {
    const std::optional<double> held = Counter(fv_key_);
    if (!cycle.version) {
      fleet_set_version_ = held.value_or(0) + 1;
    } else if (held != cycle.version) {
      fleet_changed_ = true;
    }
  } else if (fleet_changed_) {
    (void)env_.dict->Set(fu_key_, DictValue(true));
  }
  fleet_cycle_ = std::move(cycle);
  EmitFleetEvent({});
  if (std::exchange(fleet_finish_waiting_, false)) FinishCycle();
}

// The second round trip: every peer's state in the fleet, copied before probing.
void Checker::Impl::ReadFleetPeers() {
  std::weak_ptr<bool> alive = alive_;
  internals_.fleet->ReadPeers(upstream_, fleet_names_, [this, alive](Result<FleetSnapshot> r) {
    if (alive.expired() || stopped_) return;
    std::vector<FleetCopy> copies;
    if (!r.ok()) {
      // Between the two round trips: this cycle goes on as if alone, publishing nothing.
      Err("fleet: failed to read the peers: " + r.error() + UpstreamLogContext(upstream_));
      if (fleet_role_ == FleetRole::kWinner) fleet_role_ = FleetRole::kAlone;
    } else {
      CopyFleet(*r, copies);
    }
    ContinueFleetCycle(copies);
  });
}

void Checker::Impl::EmitFleetEvent(const std::vector<FleetCopy>& copies) {
  if (!env_.on_fleet) return;
  const FleetCycle& c = fleet_cycle_;
  env_.on_fleet(FleetEvent{upstream_, c.role, Counter(fv_key_).value_or(0), c.holder,
                           fleet_fell_back_, fleet_rejoined_, c.error, copies});
}

void Checker::Impl::ContinueFleetCycle(const std::vector<FleetCopy>& copies) {
  const FleetCycle& c = fleet_cycle_;
  EmitFleetEvent(copies);
  if (c.role == FleetRole::kFollower) {
    locked_ = false;  // another host probes: nothing of ours to reconcile
    FinishCycle();
    return;
  }
  StartProbing();
}

// Whether this cycle reads every peer's state from the fleet (a second round trip). Not in
// a steady fleet: a follower that holds the fleet's version has nothing to copy, and a
// winner that kept the lock since its last publish has the fleet's streaks in its own
// segment (no other host can have written them): kKeepOwn. A winner whose own change never
// reached the fleet (Redis failed, or it probed alone) publishes its view instead of
// copying (kPublishOwn); so does one that finds no fleet version, a new or flushed Redis
// whose missing flags would read as up (kStartVersion).
Checker::Impl::FleetPlan Checker::Impl::PlanFleetCycle() const {
  const FleetCycle& c = fleet_cycle_;
  const bool winner = c.role == FleetRole::kWinner;
  if (c.role == FleetRole::kAlone) return FleetPlan::kNothing;
  if (!c.version) return winner ? FleetPlan::kStartVersion : FleetPlan::kNothing;
  if (winner && (fleet_rejoined_ || HasUnpublished())) return FleetPlan::kPublishOwn;
  const bool moved = Counter(fv_key_) != c.version || fleet_rejoined_;
  if (winner && c.kept && !moved) return FleetPlan::kKeepOwn;
  return winner || moved ? FleetPlan::kReadPeers : FleetPlan::kNothing;
}

FleetPeerState Checker::Impl::FleetStateOf(const PeerSlot& peer) const {
  return FleetPeerState{peer.down, Counter(peer.ok_key), Counter(peer.nok_key)};
}

// In the fleet's order: primaries, then backups.
std::vector<FleetPeerState> Checker::Impl::OwnFleetStates() const {
  std::vector<FleetPeerState> states;
  states.reserve(fleet_names_.size());
  for (const auto* list : {&primary_, &backup_}) {
    for (const PeerSlot& p : *list) states.push_back(FleetStateOf(p));
  }
  return states;
}

// Brings this host's segment to the fleet's state: the streaks (whoever wins next counts on
// from them), and the flags when the fleet's version is one this host does not hold.
void Checker::Impl::CopyFleet(const FleetSnapshot& fleet, std::vector<FleetCopy>& copies) {
  const bool winner = fleet_role_ == FleetRole::kWinner;
  if (!fleet.version || fleet.peers.size() != fleet_names_.size()) {
    // Flushed between the two round trips: as a cycle that found no version.
    if (winner) fleet_set_version_ = Counter(fv_key_).value_or(0) + 1;
    return;
  }
  const bool copy_flags = Counter(fv_key_) != fleet.version || fleet_rejoined_;
  const std::string& holder = fleet_cycle_.holder;
  size_t i = 0;
  for (auto* list : {&primary_, &backup_}) {
    for (PeerSlot& p : *list) {
      const FleetPeerState& s = fleet.peers[i++];
      CopyStreak(p.ok_key, s.ok);
      CopyStreak(p.nok_key, s.nok);
      if (!copy_flags) continue;
      if (p.down != s.down) {
        p.down = s.down;
        Warn(Transition("peer " + p.name + " is turned " + (s.down ? "down" : "up") +
                        " by the fleet (" + (holder.empty() ? "?" : holder) + ")"));
        SetPeerDownGlobally(p, s.down);
        copies.push_back(FleetCopy{p.backup, p.id, p.name, s.down});
      } else if (s.down && !p.flagged) {
        SetPeerDownGlobally(p, true);  // down by the config here: now by the fleet's flag
      }
    }
  }
  if (copy_flags) {
    (void)env_.dict->Set(fv_key_, DictValue(*fleet.version));
    (void)env_.dict->Delete(fu_key_);
  }
  if (winner) fleet_seen_ = fleet.peers;
}

// Written only when it differs: a host that won the last cycle too holds the same numbers.
void Checker::Impl::CopyStreak(const std::string& key, std::optional<double> fleet) {
  if (fleet && Counter(key) != fleet) (void)env_.dict->Set(key, DictValue(*fleet));
}

// Streaks beyond rise and fall decide nothing: a steady peer's need not be written again.
bool Checker::Impl::SameForTheFleet(const FleetPeerState& a, const FleetPeerState& b) const {
  const auto cap = static_cast<double>(std::max(rise_, fall_));
  auto capped = [cap](std::optional<double> v) {
    return v ? std::optional<double>(std::min(*v, cap)) : std::nullopt;
  };
  return a.down == b.down && capped(a.ok) == capped(b.ok) && capped(a.nok) == capped(b.nok);
}

// The winner's end of cycle: the streaks and flag of each peer whose state moved for the
// fleet (of every peer when the version moves), then the version if a peer changed; no
// round trip at all in a steady fleet. Until Redis confirms, `fu:` marks the change as
// ours to publish again.
void Checker::Impl::PublishToFleet() {
  const bool moves = fleet_changed_ || fleet_set_version_.has_value();
  std::vector<std::string> names;
  std::vector<FleetPeerState> states;
  const std::vector<FleetPeerState> own = OwnFleetStates();
  for (size_t i = 0; i < own.size(); ++i) {
    if (moves || i >= fleet_seen_.size() || !SameForTheFleet(own[i], fleet_seen_[i])) {
      names.push_back(fleet_names_[i]);
      states.push_back(own[i]);
    }
  }
  if (names.empty() && !moves) return;  // a steady fleet: no second round trip
  if (moves) (void)env_.dict->Set(fu_key_, DictValue(true));
  std::weak_ptr<bool> alive = alive_;
  internals_.fleet->Publish(
      upstream_, names, states, fleet_changed_, fleet_set_version_,
      [this, alive](const Result<std::optional<double>>& r) {
        if (alive.expired()) return;
        if (!r.ok()) {
          Err("fleet: failed to publish: " + r.error() + UpstreamLogContext(upstream_));
          (void)env_.dict->Set(fu_key_, DictValue(true));  // the next winner publishes all
          return;
        }
        if (r->has_value()) {
          (void)env_.dict->Set(fv_key_, DictValue(**r));
          (void)env_.dict->Delete(fu_key_);
        }
      });
}

bool Checker::Impl::IsDue(const PeerSlot& peer) const {
  if (!schedule_->per_peer()) return true;
  Result<std::optional<DictValue>> key = env_.dict->Get(peer.next_key);
  return !key.ok() || !key->has_value();  // an unreadable key must not starve the peer
}

// The due key is set with a TTL, so that whichever worker holds the lock next sees it
// expire on the dict's clock: no process keeps the schedule in its own memory.
int64_t Checker::Impl::ScheduleNext(const PeerSlot& peer, PeerPhase phase) {
  const int64_t delay = schedule_->DrawDelayMs(phase, cycle_delay_ms_);
  const int64_t due = UnixMs() + delay;
  if (schedule_->per_peer() && schedule_->UsesDueKey(phase)) {
    const auto elapsed = static_cast<int64_t>(uv_now(env_.loop) - cycle_start_ms_);
    const int64_t ttl = DueKeyTtlMs(delay, schedule_->cycle_ms(), elapsed);
    DictStoreResult r = env_.dict->Set(peer.next_key, DictValue(static_cast<double>(due)), ttl);
    if (!r.ok()) Err("failed to set peer next key: " + r.status.message());
  }
  return due;
}

void Checker::Impl::Report(const PeerSlot& peer, const ProbeResult& result, PeerPhase phase,
                           HealthTransition transition, double streak) {
  const int64_t next_check = ScheduleNext(peer, phase);
  if (!env_.on_check) return;
  PeerCheckEvent e;
  e.upstream = upstream_;
  e.backup = peer.backup;
  e.id = peer.id;
  e.peer = peer.name;
  e.kind = result.kind;
  e.timed_out = result.timed_out;
  e.detail = result.error;
  e.status = result.status;
  e.unix_ms = UnixMs();
  e.duration_ms = result.duration_ms;
  e.transition = transition;
  e.down = peer.down;
  e.streak = streak;
  e.next_check_unix_ms = next_check;
  env_.on_check(e);
}

// ---- Checker -------------------------------------------------------------------------

namespace {

// The original's validation order and strings (protocol.md §3), up to the shm option.
// Lua's truth: only a missing option fails the "required" tests; "" goes on to the next.
// tcp and tls (DESIGN §9) keep the original's string for an unknown type, which tests and
// scripts match; they send nothing, so an http_req there is a mistake worth refusing, as are
// the request and response keys. http and https take http_req or request, not both.
Status ValidateTypeAndRequest(const CheckOptions& o) {
  if (!o.type) return Status::Error("\"type\" option required");
  const std::string& type = *o.type;
  if (type != "http" && type != "https" && type != "tcp" && type != "tls") {
    return Status::Error("only \"http\" and \"https\" type are supported right now");
  }
  if (type == "tcp" || type == "tls") {
    if (o.http_req) return Status::Error(TypeSendsNoRequest(type));
    std::string_view key = FirstHttpKey(o);
    return key.empty() ? Status::Ok() : Status::Error(HttpKeyNeedsHttpType(key));
  }
  if (!o.http_req && !o.request) {
    return Status::Error("\"http_req\" option required");
  }
  return ValidateHttpKeys(o);
}

}  // namespace

Status ValidateCheckOptions(const CheckOptions& o) {
  if (Status st = ValidateTypeAndRequest(o); !st) return st;
  if (o.timeout_ms && *o.timeout_ms < 0) return Status::Error("\"timeout\" option must be >= 0");
  if (Status st = ValidateScheduleOptions(o); !st) return st;
  if (Status st = ValidateTlsKeys(o, true); !st) return st;
  if ((*o.type == "https" || *o.type == "tls") && o.ssl_verify.value_or(true) && o.ca_file &&
      !o.ca_file->empty()) {
    return ValidateTrustStore(*o.ca_file);
  }
  return Status::Ok();
}

Result<std::unique_ptr<Checker>> Checker::Spawn(const CheckerEnv& env, const CheckOptions& o) {
  return SpawnChecker(env, o, CheckerInternals{});
}

Result<std::unique_ptr<Checker>> SpawnChecker(const CheckerEnv& env, const CheckOptions& o,
                                              const CheckerInternals& internals) {
  using R = Result<std::unique_ptr<Checker>>;
  if (Status st = ValidateTypeAndRequest(o); !st) return st;
  if (!o.shm) return R::Error("\"shm\" option required");
  if (*o.shm != env.shm_name || env.dict == nullptr) {
    return R::Error("shm \"" + *o.shm + "\" not found");
  }
  if (!o.upstream) return R::Error("no upstream specified");

  auto* impl = new Checker::Impl(env, internals, *o.upstream);
  if (Status st = impl->Init(o); !st.ok()) {
    impl->Detach();
    return st;
  }
  std::unique_ptr<Checker> checker(new Checker(impl));
  impl->Start(o.no_timer && env.debug_events);
  env.upstreams->AddChecker(*o.upstream, 1);  // after a no_timer cycle, as the original
  return checker;
}

Checker::Checker(Impl* impl) : impl_(impl) {}
Checker::~Checker() { impl_->Detach(); }
void Checker::Stop() { impl_->Stop(); }
void Checker::SyncNow() { impl_->SyncNow(); }
HealthTransition Checker::ReportPassive(bool backup, uint32_t id, PassiveResult result) {
  return impl_->ReportPassive(backup, id, result);
}
const std::string& Checker::upstream() const { return impl_->upstream(); }
double Checker::version() const { return impl_->version(); }

}  // namespace upcheck
