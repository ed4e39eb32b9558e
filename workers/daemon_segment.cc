#include "daemon_segment.h"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "upcheck/protocol_keys.h"

namespace upcheck::daemon {
namespace {

int64_t UnixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

static_assert(kMinShmSize == Segment::kMinSize && kMaxShmSize == Segment::kMaxSize,
              "every shm.size the config accepts makes a segment");

bool ProcessAlive(int32_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

Result<DaemonSegment> CreateFresh(const Config& config, bool replace) {
  std::vector<RegistryUpstreamSpec> specs = BuildSpecs(config);
  uint32_t slots = MaxWorkerSlots(config);
  Result<std::unique_ptr<Segment>> segment =
      SegmentSetUp::Create({.name = config.shm.name, .size = config.shm.size, .replace = replace},
                           Registry::BytesNeeded(specs, slots));
  if (!segment.ok()) return segment.status();
  Result<Registry> registry = Registry::Create(**segment, specs, slots);
  if (!registry.ok()) {
    (void)Segment::Remove(config.shm.name);
    return registry.status();
  }
  (*segment)->Publish();
  return DaemonSegment{std::move(*segment), *registry, false};
}

// Errors of Segment::Open that mean "not ours to replace": someone else's object, or a
// segment a different build of upcheckd may be using.
bool MustNotReplace(std::string_view error) {
  return error.find("permission denied") != std::string_view::npos ||
         error.find("is owned by another user") != std::string_view::npos ||
         error.find("has layout version") != std::string_view::npos;
}

// Persist: takes over a matching segment of a dead master, or says why not (nullopt).
std::optional<DaemonSegment> Reattach(std::unique_ptr<Segment>& segment, const Config& config,
                                      const Logger& logger) {
  Result<Registry> registry = Registry::Attach(*segment);
  if (!registry.ok() || segment->info().dict_size != config.shm.size ||
      !RegistryMatches(*registry, config)) {
    logger.Notice(fmt::format("segment '{}' does not match the configuration; replacing it",
                              config.shm.name));
    return std::nullopt;
  }
  uint32_t generation = SegmentSetUp::BumpGeneration(*segment, getpid());
  // The previous master's workers died with it (PR_SET_PDEATHSIG); free their rows.
  for (const WorkerRow& row : registry->Workers()) registry->ReleaseWorkerSlot(row.slot);
  logger.Notice(fmt::format("reattached to segment '{}' (generation {}); dict state kept",
                            config.shm.name, generation));
  return DaemonSegment{std::move(segment), *registry, true};
}

// reload_state = "by_peer": where each peer of the old registry went in the new one, by
// address within the same upstream and list (the n-th listing of an address goes to the
// n-th). Built once per reload: O(peers), then O(1) a key.
class PeerMoves {
 public:
  PeerMoves(const Registry& from, const Registry& to) : from_(from), to_(to) {
    for (size_t u = 0; u < from.upstream_count(); ++u) {
      std::optional<size_t> nu = to.FindUpstream(from.upstream_name(u));
      if (!nu) continue;
      Lists& lists = moves_[std::string(from.upstream_name(u))];
      for (bool backup : {false, true}) {
        std::map<std::string_view, std::deque<uint32_t>> new_ids;
        for (size_t k = 0; k < to.peer_count(*nu); ++k) {
          Registry::Peer p = to.peer(*nu, k);
          if (p.backup == backup) new_ids[p.name].push_back(p.id);
        }
        std::vector<std::optional<uint32_t>>& moved = lists[backup ? 1 : 0];
        for (size_t k = 0; k < from.peer_count(u); ++k) {
          Registry::Peer p = from.peer(u, k);
          if (p.backup != backup) continue;
          if (moved.size() <= p.id) moved.resize(p.id + 1);
          auto ids = new_ids.find(p.name);
          if (ids == new_ids.end() || ids->second.empty()) continue;  // gone
          moved[p.id] = ids->second.front();
          ids->second.pop_front();
        }
      }
    }
  }

  // The key `key` has in the new dict, or nullopt to drop it. A peer's keys follow it;
  // those of peers or upstreams that are gone are dropped. Locks and keys that are not
  // the checkers' are kept as they are.
  std::optional<std::string> NewKey(std::string_view key) const {
    std::optional<ProtocolKey> pk = ParseProtocolKey(key);
    if (!pk || pk->family == KeyFamily::kLock) return std::string(key);
    if (pk->family == KeyFamily::kVersion) {
      if (!to_.FindUpstream(pk->upstream)) return std::nullopt;
      return std::string(key);
    }
    auto lists = moves_.find(pk->upstream);
    if (lists == moves_.end()) {
      // Not an upstream of both: a key of one that is gone (or new) goes, anything else
      // is not the checkers' and stays.
      if (from_.FindUpstream(pk->upstream) || to_.FindUpstream(pk->upstream)) return std::nullopt;
      return std::string(key);
    }
    const std::vector<std::optional<uint32_t>>& moved = lists->second[pk->backup ? 1 : 0];
    if (pk->id >= moved.size() || !moved[pk->id]) return std::nullopt;
    return PeerKey(pk->family, pk->upstream, pk->backup, *moved[pk->id]);
  }

 private:
  using Lists = std::array<std::vector<std::optional<uint32_t>>, 2>;  // primary, backup
  const Registry& from_;
  const Registry& to_;
  std::map<std::string, Lists, std::less<>> moves_;  // by upstream name
};

}  // namespace

std::vector<RegistryUpstreamSpec> BuildSpecs(const Config& config) {
  std::vector<RegistryUpstreamSpec> specs;
  for (const UpstreamConfig& u : config.upstreams) {
    RegistryUpstreamSpec spec{.name = u.name,
                              .primary = {},
                              .backup = {},
                              .check = u.check,
                              .slow_start_ms = u.slow_start_ms,
                              .panic_threshold = static_cast<uint32_t>(u.panic_threshold)};
    for (const ConfigPeer& p : u.primary) spec.primary.push_back({p.address, p.down});
    for (const ConfigPeer& p : u.backup) spec.backup.push_back({p.address, p.down});
    specs.push_back(std::move(spec));
  }
  return specs;
}

uint32_t MaxWorkerSlots(const Config& config) {
  return static_cast<uint32_t>(config.daemon.workers) + kSpareWorkerSlots;
}

bool RegistryMatches(const Registry& registry, const Config& config) {
  if (registry.upstream_count() != config.upstreams.size()) return false;
  if (registry.max_workers() < MaxWorkerSlots(config)) return false;
  for (size_t u = 0; u < config.upstreams.size(); ++u) {
    const UpstreamConfig& want = config.upstreams[u];
    if (registry.upstream_name(u) != want.name) return false;
    if (registry.has_check(u) != want.check.has_value()) return false;
    if (registry.slow_start_ms(u) != want.slow_start_ms) return false;
    if (registry.panic_threshold(u) != static_cast<uint32_t>(want.panic_threshold)) return false;
    if (registry.peer_count(u) != want.primary.size() + want.backup.size()) return false;
    for (size_t k = 0; k < registry.peer_count(u); ++k) {
      bool backup = k >= want.primary.size();
      const ConfigPeer& p = backup ? want.backup[k - want.primary.size()] : want.primary[k];
      Registry::Peer have = registry.peer(u, k);
      if (have.name != p.address || have.backup != backup) return false;
    }
  }
  return true;
}

Result<DaemonSegment> SetUpSegment(const Config& config, const Logger& logger) {
  const std::string& name = config.shm.name;
  Result<std::unique_ptr<Segment>> open = Segment::Open(name);
  if (!open.ok()) {
    if (open.error().ends_with(" not found")) return CreateFresh(config, false);
    if (MustNotReplace(open.error())) return open.status();
    logger.Warn(fmt::format("replacing segment '{}': {}", name, open.error()));
    return CreateFresh(config, true);
  }
  int32_t creator = (*open)->info().creator_pid;
  if (creator != getpid() && ProcessAlive(creator)) {
    return Result<DaemonSegment>::Error(
        fmt::format("upcheckd already running (pid {}) with segment '{}'", creator, name));
  }
  if (config.shm.persist) {
    if (std::optional<DaemonSegment> kept = Reattach(*open, config, logger)) {
      return std::move(*kept);
    }
  } else {
    logger.Notice(fmt::format("removing stale segment '{}' of pid {}", name, creator));
  }
  open->reset();
  return CreateFresh(config, true);
}

Result<DaemonSegment> ReplaceSegment(const Config& config, std::string_view current_name,
                                     const Logger& logger) {
  if (config.shm.name != current_name) return SetUpSegment(config, logger);
  (void)Segment::Remove(config.shm.name);
  return CreateFresh(config, false);
}

size_t CarryDictState(SharedDict& from, const Registry& old_registry, SharedDict& to,
                      const Registry& new_registry, ReloadState mode) {
  // Operators' drains and maintenance outlive a reload, as their peers do.
  Registry carrier = new_registry;
  (void)carrier.CarryAdminStates(old_registry, UnixNowMs());
  if (mode != ReloadState::kByPeer) return CopyEntries(from, to);
  PeerMoves moves(old_registry, new_registry);
  return CopyEntries(from, to, [&moves](const std::string& key) { return moves.NewKey(key); });
}

}  // namespace upcheck::daemon
