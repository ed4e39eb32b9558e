// Upstreams: one process's own view of its upstreams and their peers, like nginx's
// per-worker `ngx.upstream` (protocol.md §11, §12, §16 point 2).
//
// Each worker builds its own Upstreams after fork() and owns it; nothing here touches shm.
// Not thread-safe: use it from the thread that runs the worker's loop. Upstreams keep their
// definition order; peer ids are 0-based positions in the primary and in the backup list.
#ifndef UPCHECK_UPSTREAMS_H_
#define UPCHECK_UPSTREAMS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_UPSTREAM)
#error "upcheck/upstreams.h belongs to upstream/, a layer above (see lib/meson.build)"
#endif

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "upcheck/peer_address.h"
#include "upcheck/status.h"

namespace upcheck {

// A peer as written in the configuration: "ipv4:port", "[ipv6]:port" or "unix:/path", and
// nginx's `server ... down` flag (the peer starts down in this view).
struct PeerConfig {
  std::string address;
  bool down = false;
};

// An operator's override of a peer's checked state (upcheck-shmctl peer): kAuto follows
// the checks; kDown (maintenance) and kDrain are never picked; kUp is picked whatever the
// checks say. The values are stored in shm: never reuse one.
enum class AdminState : uint8_t { kAuto = 0, kUp = 1, kDown = 2, kDrain = 3 };

// "auto", "up", "down", "drain".
std::string_view AdminStateName(AdminState state);
// The state named `name` (AdminStateName's words), or nullopt.
std::optional<AdminState> ParseAdminState(std::string_view name);

// One peer of this view.
struct PeerInfo {
  std::string name;   // canonical, as nginx prints it: "127.0.0.1:80", "[::1]:80", "unix:/x"
  uint32_t id = 0;    // position in its list (primary or backup)
  bool down = false;  // the checks' verdict (what the status pages show)
  bool backup = false;
  PeerAddress address;
  AdminState admin = AdminState::kAuto;

  // Whether Pick() may choose it: the admin state, else the checks' verdict.
  bool pickable() const { return admin == AdminState::kAuto ? !down : admin == AdminState::kUp; }
};

class Upstreams {
 public:
  Upstreams();
  ~Upstreams();
  Upstreams(Upstreams&&) noexcept;
  Upstreams& operator=(Upstreams&&) noexcept;
  Upstreams(const Upstreams&) = delete;
  Upstreams& operator=(const Upstreams&) = delete;

  // Appends an upstream. Every address is validated and canonicalised ("[0:0::1]:80" is
  // named "[::1]:80"). Errors: an empty or duplicate name, no primary peers, or a bad
  // address: `upstream "u": bad peer address "x" (<why>)` (ParsePeerAddress). On error nothing
  // changes.
  Status AddUpstream(std::string name, std::vector<PeerConfig> primary,
                     std::vector<PeerConfig> backup);

  // Upstream names in definition order.
  std::vector<std::string> GetUpstreams() const;

  // Copies of the peers of `u`. Error: "upstream not found". An upstream without backups
  // has an empty backup list.
  Result<std::vector<PeerInfo>> GetPrimaryPeers(std::string_view u) const;
  Result<std::vector<PeerInfo>> GetBackupPeers(std::string_view u) const;

  // Marks one peer down or up in this view. Errors, in this order of checks:
  // "upstream not found", "no backup peers" (is_backup and u has none), "bad peer id".
  Status SetPeerDown(std::string_view u, bool is_backup, uint32_t id, bool down);

  // Sets a peer's admin state in this view (by upstream index). Same errors as
  // SetPeerDown ("bad upstream index" for an index out of range).
  Status SetPeerAdmin(size_t index, bool is_backup, uint32_t id, AdminState admin);

  // Runs the before-read hook, then picks round-robin among the pickable primary peers of
  // `u` (PeerInfo::pickable), else among its pickable backup peers. nullopt if `u` is unknown or
  // every peer is down. Equal weights; a fresh view picks p0, p1, p2, ... like nginx's smooth
  // weighted RR. O(1) amortised: the up lists are rebuilt once after SetPeerDown calls, not per
  // pick.
  std::optional<PeerInfo> Pick(std::string_view u);

  // Checker count per upstream (the original's `upstream_checker_statuses`, §12). Only
  // drives the status pages: 0 means "(NO checkers)" / UNKNOWN. Unknown names are ignored
  // by AddChecker and have a count of 0.
  void AddChecker(std::string_view u, int delta);
  int CheckerCount(std::string_view u) const;

  // A function that Pick() and the status page renderers call first, so that the owner
  // can bring this view up to date (e.g. from shm) before it is read. Default: none.
  // The hook may call SetPeerDown() but must not call Pick() or a renderer.
  void SetBeforeReadHook(std::function<void()> hook);
  void RunBeforeReadHook() const;

  // A function that SetPeerDown() and SetPeerAdmin() call after they changed whether a
  // peer may be picked: a host mirrors the view into its own peers (nginx's rr peers). It
  // gets the upstream's index, the list, the peer's id and !pickable(). Default: none.
  using PeerChangeHook = std::function<void(size_t upstream, bool backup, uint32_t id, bool down)>;
  void SetPeerChangeHook(PeerChangeHook hook);

  // Zero-copy access by index, for renderers. REQUIRES: index < upstream_count(). The
  // returned views stay valid until the next AddUpstream() or move of this object.
  size_t upstream_count() const;
  std::string_view upstream_name(size_t index) const;
  std::span<const PeerInfo> primary_peers(size_t index) const;
  std::span<const PeerInfo> backup_peers(size_t index) const;
  int checker_count(size_t index) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace upcheck

#endif  // UPCHECK_UPSTREAMS_H_
