#include "upcheck/upstreams.h"

#include <cassert>
#include <unordered_map>
#include <utility>

#include "upcheck/peer_address.h"
#include "upstream/round_robin.h"

namespace upcheck {
namespace {

// Lets the name index be searched with a string_view without building a std::string.
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
};

struct Upstream {
  std::string name;
  std::vector<PeerInfo> primary;
  std::vector<PeerInfo> backup;
  int checkers = 0;
  RoundRobin primary_rr;
  RoundRobin backup_rr;
};

Result<std::vector<PeerInfo>> BuildPeers(std::string_view upstream,
                                         std::vector<PeerConfig>& configs, bool backup) {
  std::vector<PeerInfo> peers;
  peers.reserve(configs.size());
  for (PeerConfig& config : configs) {
    Result<PeerAddress> address = ParsePeerAddress(config.address);
    if (!address.ok()) {
      return Result<std::vector<PeerInfo>>::Error("upstream \"" + std::string(upstream) +
                                                  "\": " + address.error());
    }
    PeerInfo peer;
    peer.name = PeerAddressName(*address);
    peer.id = static_cast<uint32_t>(peers.size());
    peer.down = config.down;
    peer.backup = backup;
    peer.address = std::move(address).value();
    peers.push_back(std::move(peer));
  }
  return peers;
}

}  // namespace

std::string_view AdminStateName(AdminState state) {
  switch (state) {
    case AdminState::kAuto:
      return "auto";
    case AdminState::kUp:
      return "up";
    case AdminState::kDown:
      return "down";
    case AdminState::kDrain:
      return "drain";
  }
  return "auto";
}

std::optional<AdminState> ParseAdminState(std::string_view name) {
  for (AdminState s : {AdminState::kAuto, AdminState::kUp, AdminState::kDown, AdminState::kDrain}) {
    if (AdminStateName(s) == name) return s;
  }
  return std::nullopt;
}

struct Upstreams::Impl {
  std::vector<Upstream> upstreams;  // definition order
  std::unordered_map<std::string, size_t, NameHash, std::equal_to<>> index;
  std::function<void()> before_read;
  PeerChangeHook on_change;

  const Upstream* Find(std::string_view name) const {
    const auto it = index.find(name);
    return it == index.end() ? nullptr : &upstreams[it->second];
  }
  Upstream* Find(std::string_view name) {
    return const_cast<Upstream*>(std::as_const(*this).Find(name));
  }

  // After a peer's down flag or admin state changed: the pick lists and the host's mirror
  // follow whether it may be picked.
  void Changed(Upstream& upstream, bool backup, uint32_t id, bool was_pickable) {
    const PeerInfo& peer = (backup ? upstream.backup : upstream.primary)[id];
    if (peer.pickable() == was_pickable) return;
    (backup ? upstream.backup_rr : upstream.primary_rr).Invalidate();
    if (on_change) {
      on_change(static_cast<size_t>(&upstream - upstreams.data()), backup, id, !peer.pickable());
    }
  }
};

Upstreams::Upstreams() : impl_(std::make_unique<Impl>()) {}
Upstreams::~Upstreams() = default;
Upstreams::Upstreams(Upstreams&&) noexcept = default;
Upstreams& Upstreams::operator=(Upstreams&&) noexcept = default;

Status Upstreams::AddUpstream(std::string name, std::vector<PeerConfig> primary,
                              std::vector<PeerConfig> backup) {
  if (name.empty()) return Status::Error("empty upstream name");
  if (impl_->Find(name) != nullptr) return Status::Error("duplicate upstream \"" + name + "\"");
  if (primary.empty()) return Status::Error("upstream \"" + name + "\" has no primary peers");
  Result<std::vector<PeerInfo>> primary_peers = BuildPeers(name, primary, /*backup=*/false);
  if (!primary_peers.ok()) return primary_peers.status();
  Result<std::vector<PeerInfo>> backup_peers = BuildPeers(name, backup, /*backup=*/true);
  if (!backup_peers.ok()) return backup_peers.status();

  Upstream upstream;
  upstream.name = name;
  upstream.primary = std::move(primary_peers).value();
  upstream.backup = std::move(backup_peers).value();
  impl_->index.emplace(std::move(name), impl_->upstreams.size());
  impl_->upstreams.push_back(std::move(upstream));
  return Status::Ok();
}

std::vector<std::string> Upstreams::GetUpstreams() const {
  std::vector<std::string> names;
  names.reserve(impl_->upstreams.size());
  for (const Upstream& upstream : impl_->upstreams) names.push_back(upstream.name);
  return names;
}

Result<std::vector<PeerInfo>> Upstreams::GetPrimaryPeers(std::string_view u) const {
  const Upstream* upstream = impl_->Find(u);
  if (upstream == nullptr) return Result<std::vector<PeerInfo>>::Error("upstream not found");
  return upstream->primary;
}

Result<std::vector<PeerInfo>> Upstreams::GetBackupPeers(std::string_view u) const {
  const Upstream* upstream = impl_->Find(u);
  if (upstream == nullptr) return Result<std::vector<PeerInfo>>::Error("upstream not found");
  return upstream->backup;
}

Status Upstreams::SetPeerDown(std::string_view u, bool is_backup, uint32_t id, bool down) {
  Upstream* upstream = impl_->Find(u);
  if (upstream == nullptr) return Status::Error("upstream not found");
  if (is_backup && upstream->backup.empty()) return Status::Error("no backup peers");
  std::vector<PeerInfo>& peers = is_backup ? upstream->backup : upstream->primary;
  if (id >= peers.size()) return Status::Error("bad peer id");
  if (peers[id].down != down) {
    const bool was_pickable = peers[id].pickable();
    peers[id].down = down;
    impl_->Changed(*upstream, is_backup, id, was_pickable);
  }
  return Status::Ok();
}

Status Upstreams::SetPeerAdmin(size_t index, bool is_backup, uint32_t id, AdminState admin) {
  if (index >= impl_->upstreams.size()) return Status::Error("bad upstream index");
  Upstream& upstream = impl_->upstreams[index];
  if (is_backup && upstream.backup.empty()) return Status::Error("no backup peers");
  std::vector<PeerInfo>& peers = is_backup ? upstream.backup : upstream.primary;
  if (id >= peers.size()) return Status::Error("bad peer id");
  if (peers[id].admin != admin) {
    const bool was_pickable = peers[id].pickable();
    peers[id].admin = admin;
    impl_->Changed(upstream, is_backup, id, was_pickable);
  }
  return Status::Ok();
}

std::optional<PeerInfo> Upstreams::Pick(std::string_view u) {
  RunBeforeReadHook();
  Upstream* upstream = impl_->Find(u);
  if (upstream == nullptr) return std::nullopt;
  if (const std::optional<uint32_t> id = upstream->primary_rr.Next(upstream->primary)) {
    return upstream->primary[*id];
  }
  if (const std::optional<uint32_t> id = upstream->backup_rr.Next(upstream->backup)) {
    return upstream->backup[*id];
  }
  return std::nullopt;
}

void Upstreams::AddChecker(std::string_view u, int delta) {
  if (Upstream* upstream = impl_->Find(u)) upstream->checkers += delta;
}

int Upstreams::CheckerCount(std::string_view u) const {
  const Upstream* upstream = impl_->Find(u);
  return upstream == nullptr ? 0 : upstream->checkers;
}

void Upstreams::SetBeforeReadHook(std::function<void()> hook) {
  impl_->before_read = std::move(hook);
}

void Upstreams::SetPeerChangeHook(PeerChangeHook hook) { impl_->on_change = std::move(hook); }

void Upstreams::RunBeforeReadHook() const {
  if (impl_->before_read) impl_->before_read();
}

size_t Upstreams::upstream_count() const { return impl_->upstreams.size(); }

std::string_view Upstreams::upstream_name(size_t index) const {
  assert(index < impl_->upstreams.size());
  return impl_->upstreams[index].name;
}

std::span<const PeerInfo> Upstreams::primary_peers(size_t index) const {
  assert(index < impl_->upstreams.size());
  return impl_->upstreams[index].primary;
}

std::span<const PeerInfo> Upstreams::backup_peers(size_t index) const {
  assert(index < impl_->upstreams.size());
  return impl_->upstreams[index].backup;
}

int Upstreams::checker_count(size_t index) const {
  assert(index < impl_->upstreams.size());
  return impl_->upstreams[index].checkers;
}

}  // namespace upcheck
