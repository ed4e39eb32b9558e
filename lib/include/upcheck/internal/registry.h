// Internal to this source tree (upcheckd, the tools and the tests); not installed.
// Registry: what a daemon publishes in the segment for every process to read: the
// upstreams with their peers, roles and check options; one details record per peer
// (written by whichever worker probed it); and the worker table.
//
// The master creates it once, at set-up, before Segment::Publish(). Any attached process
// (workers, upcheck-status, upcheck-shmctl) then reads it without locks: every field that
// changes after set-up is an atomic, and the few multi-field records (peer details) use a
// sequence counter so that a reader never shows a torn record.
#ifndef UPCHECK_INTERNAL_REGISTRY_H_
#define UPCHECK_INTERNAL_REGISTRY_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_REGISTRY)
#error "upcheck/internal/registry.h belongs to registry/, a layer above (see lib/meson.build)"
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "upcheck/check_event.h"
#include "upcheck/check_options.h"
#include "upcheck/internal/journal.h"
#include "upcheck/internal/peer_fields.h"
#include "upcheck/internal/segment_setup.h"
#include "upcheck/status.h"
#include "upcheck/upstreams.h"

namespace upcheck {

namespace shm {
struct RegistryHeaderShm;
struct PeerDetailsShm;
}  // namespace shm

struct RegistryUpstreamSpec {
  std::string name;
  std::vector<PeerConfig> primary, backup;
  std::optional<CheckOptions> check;
  int64_t slow_start_ms = 0;     // the balancer's settings (DESIGN §10); 0: off
  uint32_t panic_threshold = 0;  // percent
};

// The balancer's arithmetic (DESIGN §10), shared by upcheckd's balancer and the status
// pages so that they agree. Pure functions.
//
// A slow-started peer's share of a full weight: 1 unless slow_start_ms > 0, the checks say
// up and the last transition (Unix ms, 0: none since start-up) is less than slow_start_ms
// before now_ms; then elapsed / slow_start_ms, at least kSlowStartMinWeight so that it
// still gets some traffic.
inline constexpr double kSlowStartMinWeight = 0.1;
double SlowStartWeight(bool down, int64_t last_change_ms, int64_t slow_start_ms, int64_t now_ms);
// Primaries an operator does not hold down or drain (eligible), and of those the ones that
// may be picked (up).
struct PrimaryHealth {
  size_t up = 0;
  size_t eligible = 0;
};
PrimaryHealth CountPrimaries(std::span<const PeerInfo> primary);
// Fewer than threshold_percent of the eligible primaries up (never when threshold is 0).
bool BelowPanicThreshold(PrimaryHealth health, uint32_t threshold_percent);

// One peer's check history, as the last prober recorded it (the fields: peer_fields.h).
struct PeerDetails {
#define UPCHECK_PEER_DETAILS_MEMBER(member, type, shm, json_key, json) type member{};
  UPCHECK_PEER_FIELDS(UPCHECK_PEER_DETAILS_MEMBER)
#undef UPCHECK_PEER_DETAILS_MEMBER
};

// One peer's admin state as upcheck-shmctl set it (upstreams.h: AdminState).
struct PeerAdmin {
  AdminState state = AdminState::kAuto;
  std::string reason;
  int64_t expires_ms = 0;  // Unix time, ms; 0: never
  int64_t changed_ms = 0;  // Unix time, ms, of the last change; 0: never set
};

enum class WorkerState : uint32_t { kFree = 0, kStarting = 1, kRunning = 2, kExiting = 3 };
std::string_view WorkerStateName(WorkerState state);

struct WorkerRow {
  uint32_t slot = 0;
  int32_t pid = 0;
  WorkerState state = WorkerState::kFree;
  int64_t started_ms = 0;  // Unix time, ms
  uint32_t checkers = 0;
  int64_t last_cycle_start_ms = 0;  // Unix time, ms
  int64_t last_cycle_end_ms = 0;
  uint64_t cycles = 0;
  std::vector<double> versions;  // local version per upstream (registry order)
};

class Registry {
 public:
  // Bytes to reserve in the segment (SegmentSetUp::Create's reserved_bytes).
  static size_t BytesNeeded(const std::vector<RegistryUpstreamSpec>& upstreams,
                            uint32_t max_workers);
  // Set-up, in the creating process, before Publish(). Peers are validated and named as
  // Upstreams names them. The segment's event journal is made beside it.
  static Result<Registry> Create(Segment& segment,
                                 const std::vector<RegistryUpstreamSpec>& upstreams,
                                 uint32_t max_workers);
  // Any process: finds and bounds-checks the registry ("segment 'x' has no registry: it
  // was created without a daemon" when absent).
  static Result<Registry> Attach(const Segment& segment);

  size_t upstream_count() const;
  std::string_view upstream_name(size_t u) const;
  std::optional<size_t> FindUpstream(std::string_view name) const;
  bool has_check(size_t u) const;
  // The check options as JSON ({"type":"http","interval":2000,...}), "" when none.
  std::string_view check_json(size_t u) const;
  // Peers in list order: primary ones, then backup ones.
  size_t peer_count(size_t u) const;
  struct Peer {
    std::string_view name;
    bool backup = false;
    uint32_t id = 0;
    bool configured_down = false;
  };
  Peer peer(size_t u, size_t k) const;
  // A fresh per-process view with the configured `down` flags (what a worker starts from).
  Result<Upstreams> BuildUpstreams() const;

  // Per-peer details. RecordCheck takes a Checker's event; any process may call it. A
  // transition, and the first failure after a success, also go to the journal.
  void RecordCheck(const PeerCheckEvent& event);
  PeerDetails details(size_t u, bool backup, uint32_t id) const;
  // Passive checks: one connection's outcome (a failure counts in passive_failures, a
  // transition as RecordCheck counts one) and one active probe skipped. Any process.
  void RecordPassive(std::string_view upstream, bool backup, uint32_t id, PassiveResult result,
                     HealthTransition transition);
  void RecordSkip(const PeerSkipEvent& event);

  // Admin state, per peer. SetAdmin stores it (kAuto clears reason and expiry), bumps the
  // upstream's admin_seq and journals the change; any process may call it. Errors: a peer
  // out of range, a reason over 200 bytes; nothing is written then.
  Status SetAdmin(size_t u, bool backup, uint32_t id, const PeerAdmin& admin);
  // The stored state; one whose expiry is at or before now_ms (Unix ms) reads as a default
  // PeerAdmin (auto) but for changed_ms. Out of range: a default PeerAdmin.
  PeerAdmin admin(size_t u, bool backup, uint32_t id, int64_t now_ms) const;
  // Moves after every SetAdmin on upstream u (one acquire load); 0 for an unknown u.
  uint64_t admin_seq(size_t u) const;
  // A reload's new registry takes the admin states still in force in `old` (now_ms, Unix
  // ms) for the peers it still has: same upstream name, role and address. Returns how many.
  size_t CarryAdminStates(const Registry& old, int64_t now_ms);

  // Balancer state per upstream (DESIGN §10). The settings Create() stored (0: off, and for
  // an unknown u); a peer's last transition (Unix ms, 0: none) with a single load.
  int64_t slow_start_ms(size_t u) const;
  uint32_t panic_threshold(size_t u) const;
  int64_t last_change_ms(size_t u, bool backup, uint32_t id) const;
  // Whether the balancers pick among all primaries. SetPanic stores it and returns true for
  // the one call, of whichever process, that changed it: that caller logs the change. Each
  // entry into panic counts in panic_total. Any process may call them.
  bool SetPanic(size_t u, bool panic);
  bool panic(size_t u) const;
  uint64_t panic_total(size_t u) const;

  // The fleet tier, per upstream (DESIGN §11). RecordFleet takes a Checker's FleetEvent:
  // the role and version, a fallback counted and journaled, each copied transition as a
  // check's would be (last change, turned up/down, a journal event). Any process.
  void RecordFleet(const FleetEvent& event);
  FleetRole fleet_role(size_t u) const;
  double fleet_version(size_t u) const;
  uint64_t fleet_fallbacks(size_t u) const;

  // The worker table.
  uint32_t max_workers() const;
  // A free slot for `pid` (kStarting), or an error when the table is full.
  Result<uint32_t> ClaimWorkerSlot(int32_t pid);
  void SetWorkerState(uint32_t slot, WorkerState state);
  void SetWorkerCheckers(uint32_t slot, uint32_t checkers);
  void RecordCycle(uint32_t slot, const CycleEvent& event);
  // Frees the slot of a dead worker (the master, after waitpid).
  void ReleaseWorkerSlot(uint32_t slot);
  // Frees the slots of workers that no longer exist (kill(pid, 0) says ESRCH): for hosts
  // whose master cannot release them (nginx's). Journals each; returns how many it freed.
  uint32_t ReclaimDeadWorkerSlots();
  std::vector<WorkerRow> Workers() const;  // slots in use

  // The last version published for upstream u, as checkers store it through
  // CheckerInternals::version_hint; readers that must not take the dict lock use it.
  // 0: none yet.
  double published_version(size_t u) const;
  // The shared word behind published_version(u), for CheckerInternals::version_hint.
  std::atomic<uint64_t>* version_hint(size_t u);

  // The segment's event journal; nullptr for a segment made without one.
  Journal* journal() { return journal_ ? &*journal_ : nullptr; }
  const Journal* journal() const { return journal_ ? &*journal_ : nullptr; }

 private:
  explicit Registry(shm::RegistryHeaderShm* header, size_t bytes);
  Status StoreAdmin(size_t u, bool backup, uint32_t id, const PeerAdmin& admin);
  void AppendEvent(const JournalEvent& event);
  // The details record of a peer, or nullptr for an unknown upstream or peer.
  shm::PeerDetailsShm* FindDetails(std::string_view upstream, bool backup, uint32_t id) const;
  shm::RegistryHeaderShm* h_;
  size_t bytes_;
  std::optional<Journal> journal_;
};

}  // namespace upcheck

#endif  // UPCHECK_INTERNAL_REGISTRY_H_
