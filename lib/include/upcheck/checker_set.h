// CheckerSet: one process's checkers, its peer view and its picks, for a server that
// embeds the engine in its own workers (DESIGN.md §7).
//
// Each worker makes one set on its own libuv loop from the segment it attached, adds its
// upstreams (with their peers and check options, or all of them from a Config) and picks.
// On a segment made with a registry (upcheck_shm_create_host, upcheckd's), the set also
// takes a row of the worker table for its process and records every check and cycle there,
// so that the tools and the status pages of every process see them.
// With CheckerSetOptions::fleet, its checkers also run the fleet tier (DESIGN §11) over
// one Redis connection of the set's.
// The set owns the view, the checkers and the fleet tier and holds the segment: destroying
// it stops every checker, then the tier, and hands their handles back to the loop, the
// view and the segment going last.
// The caller then runs the loop until it is empty before uv_loop_close(), as with any
// handle. Loop thread only; not copyable, not movable (the checkers point into it).
#ifndef UPCHECK_CHECKER_SET_H_
#define UPCHECK_CHECKER_SET_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_EMBED)
#error "upcheck/checker_set.h belongs to embed/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "upcheck/check_options.h"
#include "upcheck/checker.h"
#include "upcheck/config.h"
#include "upcheck/health_shm.h"
#include "upcheck/log.h"
#include "upcheck/status.h"
#include "upcheck/upstreams.h"

struct uv_loop_s;

namespace upcheck {

class FleetTier;

struct CheckerSetOptions {
  // The checkers' log. At debug it also carries the original's debug lines.
  Logger logger = Logger::Stderr(LogLevel::kWarn);
  std::function<void(const PeerCheckEvent&)> on_check = nullptr;  // optional, see CheckerEnv
  std::function<void(const CycleEvent&)> on_cycle = nullptr;      // optional
  // Optional: called whenever a peer of the view changes state, by this process's checker
  // or by a sync (Upstreams::SetPeerChangeHook). Indexes are the order of AddUpstream.
  Upstreams::PeerChangeHook on_peer_change = nullptr;
  // Optional: the fleet tier's Redis and this host's name in it ([fleet], nginx's
  // upcheck_fleet). The process must ignore SIGPIPE (a Redis connection may break).
  std::optional<FleetConfig> fleet = std::nullopt;
  std::function<void(const FleetEvent&)> on_fleet = nullptr;  // optional, see CheckerEnv
};

// The pages a set renders: the original's two and the JSON document (DESIGN.md §5).
enum class StatusFormat : uint8_t { kText, kPrometheus, kJson };

class CheckerSet {
 public:
  using Options = CheckerSetOptions;

  // A set with no upstreams on `loop`, which must outlive the set. Errors: "no loop given";
  // `fleet: <why>` when the fleet tier cannot be made (a bad address or timeout).
  static Result<std::unique_ptr<CheckerSet>> Create(uv_loop_s* loop, HealthShm shm,
                                                    Options options = {});

  ~CheckerSet();
  CheckerSet(const CheckerSet&) = delete;
  CheckerSet& operator=(const CheckerSet&) = delete;

  // Adds `name` to the view and, with `check`, spawns its checker: check.shm and
  // check.upstream are filled in from this set (any value given is replaced). Errors: the
  // view's (bad peer, duplicate name) with nothing added, or Spawn's, prefixed
  // `upstream NAME: failed to spawn health checker: `; the upstream then stays in the view
  // unchecked, and the caller usually gives the set up.
  Status AddUpstream(std::string name, std::vector<PeerConfig> primary,
                     std::vector<PeerConfig> backup, std::optional<CheckOptions> check);
  // Every upstream of a loaded config, in file order (those without a check are only
  // picked). Error: the config's shm.name is not this set's segment, or AddUpstream's;
  // it stops at the first.
  Status AddUpstreams(const Config& config);

  // Applies what other processes published to this view (check_peers_updates, at once).
  void SyncAll();
  // Syncs `upstream` and picks round-robin among its up primary peers, else its up backup
  // peers. nullopt: unknown upstream, or every peer down.
  std::optional<PeerInfo> Pick(std::string_view upstream);
  // Syncs the upstream added `index`-th (0-based) with one atomic load when nothing changed:
  // the pick path of a host that picks by itself (nginx's balancers).
  void SyncUpstream(size_t index);
  // One connection's outcome to peer `id` of `upstream`, as this process's balancer saw
  // it (passive checks, DESIGN §10): Checker::ReportPassive, then the registry's counters.
  // Does nothing for an upstream without a checker.
  void ReportPassive(std::string_view upstream, bool backup, uint32_t id, PassiveResult result);
  // Appends a status page rendered from this view (synced first). On a segment with a
  // registry, /metrics and the JSON carry the per-peer details; without one they leave
  // them out. The text page is the original's status_page(), byte for byte.
  void AppendStatus(StatusFormat format, std::string& out);

  // No more cycles; probes in flight are aborted. The view keeps its last states and picks
  // still work. Idempotent.
  void Stop();

  // For the status page renderers (status_pages.h); they sync it first.
  Upstreams& view() { return view_; }
  const HealthShm& shm() const { return shm_; }
  size_t checker_count() const { return checkers_.size(); }

 private:
  CheckerSet(uv_loop_s* loop, HealthShm shm, Options options);

  // Members are destroyed bottom-up, which is the teardown order: the checkers before the
  // view they flip and the logger they write to, the segment's mapping last.
  uv_loop_s* loop_;
  HealthShm shm_;
  Options options_;
  Upstreams view_;
  // The segment's registry, when it has one: this process's worker row, check details.
  struct Host;
  std::unique_ptr<Host> host_;
  bool picking_ = false;  // Pick() synced its upstream: the view's hook need not sync all
  // Shared by the checkers, so it goes after them (they are cleared first in ~CheckerSet).
  std::unique_ptr<FleetTier> fleet_;
  std::map<std::string, std::unique_ptr<Checker>, std::less<>> checkers_;
  std::vector<Checker*> by_index_;  // per upstream of the view, in order; nullptr: unchecked
};

}  // namespace upcheck

#endif  // UPCHECK_CHECKER_SET_H_
