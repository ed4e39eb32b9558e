#include "shmctl_peers.h"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "status_view.h"
#include "upcheck/internal/registry.h"
#include "upcheck/peer_address.h"
#include "upcheck/upstreams.h"
#include "worker_table.h"

namespace upcheck::shmctl {
namespace {

constexpr size_t kMaxReasonBytes = 200;

struct Target {
  bool backup = false;
  uint32_t id = 0;
  std::string_view name;
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RoleId(bool backup, uint32_t id) {
  return fmt::format("{}:{}", backup ? "backup" : "primary", id);
}

// "primary:N" / "backup:N" as (backup, N); nullopt for anything else.
std::optional<Target> ParseRoleId(std::string_view text) {
  for (const bool backup : {false, true}) {
    const std::string_view role = backup ? "backup:" : "primary:";
    if (text.substr(0, role.size()) != role) continue;
    const std::string_view digits = text.substr(role.size());
    Target t{backup, 0, {}};
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), t.id);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) break;
    return t;
  }
  return std::nullopt;
}

// Every peer of upstream u that `peer` names: one by role and id, or all those listed at
// that address (nginx lets a server repeat; both are the same backend).
Result<std::vector<Target>> FindPeers(const Registry& registry, size_t u, std::string_view peer) {
  const std::optional<Target> by_id = ParseRoleId(peer);
  std::string address(peer);
  if (Result<PeerAddress> parsed = ParsePeerAddress(peer); parsed.ok()) {
    address = PeerAddressName(*parsed);
  }
  std::vector<Target> found;
  for (size_t k = 0; k < registry.peer_count(u); ++k) {
    const Registry::Peer p = registry.peer(u, k);
    const bool match = by_id ? p.backup == by_id->backup && p.id == by_id->id : p.name == address;
    if (match) found.push_back(Target{p.backup, p.id, p.name});
  }
  if (found.empty()) {
    return Result<std::vector<Target>>::Error(fmt::format(
        "upstream \"{}\" has no peer \"{}\" (name one by its address or as primary:N / backup:N)",
        cli::EscapeForLine(registry.upstream_name(u)), cli::EscapeForLine(peer)));
  }
  return found;
}

Result<size_t> FindUpstream(const Registry& registry, std::string_view name) {
  if (std::optional<size_t> u = registry.FindUpstream(name)) return *u;
  return Result<size_t>::Error(fmt::format("upstream \"{}\" not found", cli::EscapeForLine(name)));
}

// The new state from the arguments alone, before the segment is touched.
Result<PeerAdmin> ParseAdmin(const PeerArgs& args) {
  const std::optional<AdminState> state = ParseAdminState(args.state);
  if (!state) {
    return Result<PeerAdmin>::Error(fmt::format("unknown state \"{}\" (down, drain, up or auto)",
                                                cli::EscapeForLine(args.state)));
  }
  PeerAdmin admin;
  admin.state = *state;
  admin.changed_ms = NowMs();
  if (*state == AdminState::kAuto && (args.ttl || args.reason)) {
    return Result<PeerAdmin>::Error("auto takes no --ttl or --reason: it clears them");
  }
  if (args.ttl) {
    Result<int64_t> ttl = cli::ParseDurationArg(*args.ttl);
    if (!ttl.ok()) return ttl.status();
    admin.expires_ms = admin.changed_ms + *ttl;
  }
  if (args.reason) {
    if (args.reason->size() > kMaxReasonBytes) {
      return Result<PeerAdmin>::Error(
          fmt::format("reason is {} bytes, at most {}", args.reason->size(), kMaxReasonBytes));
    }
    admin.reason = *args.reason;
  }
  return admin;
}

}  // namespace

Status RunPeer(Segment& segment, const PeerArgs& args, std::ostream& out) {
  Result<PeerAdmin> admin = ParseAdmin(args);
  if (!admin.ok()) return admin.status();
  Result<Registry> registry = Registry::Attach(segment);
  if (!registry.ok()) return registry.status();
  Result<size_t> u = FindUpstream(*registry, args.upstream);
  if (!u.ok()) return u.status();
  Result<std::vector<Target>> targets = FindPeers(*registry, *u, args.peer);
  if (!targets.ok()) return targets.status();
  for (const Target& t : *targets) {
    if (Status st = registry->SetAdmin(*u, t.backup, t.id, *admin); !st.ok()) return st;
    out << registry->upstream_name(*u) << ' ' << t.name << ' ' << RoleId(t.backup, t.id) << ' '
        << AdminStateName(admin->state);
    if (admin->expires_ms > 0) out << " until " << cli::FormatUnixMsIso(admin->expires_ms);
    out << '\n';
  }
  return Status::Ok();
}

Status RunPeers(Segment& segment, const PeersArgs& args, std::ostream& out) {
  Result<Registry> registry = Registry::Attach(segment);
  if (!registry.ok()) return registry.status();
  std::optional<size_t> only;
  if (args.upstream) {
    Result<size_t> u = FindUpstream(*registry, *args.upstream);
    if (!u.ok()) return u.status();
    only = *u;
  }
  const bool live = cli::AnyLiveChecker(registry->Workers());
  Result<Upstreams> view = status_tool::BuildSegmentView(*registry, segment.dict(), live);
  if (!view.ok()) return view.status();
  const int64_t now = NowMs();
  nlohmann::json rows = nlohmann::json::array();
  if (!args.json) out << "UPSTREAM\tPEER\tID\tCHECK\tADMIN\tEXPIRES\tREASON\n";
  for (size_t u = 0; u < registry->upstream_count(); ++u) {
    if (only && *only != u) continue;
    for (const bool backup : {false, true}) {
      for (const PeerInfo& p : backup ? view->backup_peers(u) : view->primary_peers(u)) {
        const PeerAdmin a = registry->admin(u, backup, p.id, now);
        const std::string_view check = p.down ? "down" : "up";
        if (args.json) {
          rows.push_back({{"upstream", registry->upstream_name(u)},
                          {"peer", p.name},
                          {"role", backup ? "backup" : "primary"},
                          {"id", p.id},
                          {"check", check},
                          {"admin", AdminStateName(a.state)},
                          {"admin_reason", a.reason},
                          {"admin_expires", a.expires_ms > 0
                                                ? nlohmann::json(cli::FormatUnixMsIso(a.expires_ms))
                                                : nlohmann::json(nullptr)}});
          continue;
        }
        out << cli::EscapeForLine(registry->upstream_name(u)) << '\t' << p.name << '\t'
            << RoleId(backup, p.id) << '\t' << check << '\t' << AdminStateName(a.state) << '\t'
            << (a.expires_ms > 0 ? cli::FormatUnixMsIso(a.expires_ms) : "-") << '\t'
            << cli::EscapeForLine(a.reason) << '\n';
      }
    }
  }
  if (args.json) {
    out << rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }
  return Status::Ok();
}

}  // namespace upcheck::shmctl
