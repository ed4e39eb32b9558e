#include "daemon_segment.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace upcheck::daemon {
namespace {

static_assert(kMinShmSize == Segment::kMinSize && kMaxShmSize == Segment::kMaxSize,
              "every shm.size the config accepts makes a segment");

bool ProcessAlive(int32_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

Result<DaemonSegment> CreateFresh(const Config& config, bool replace) {
  std::vector<RegistryUpstreamSpec> specs = BuildSpecs(config);
  uint32_t slots = MaxWorkerSlots(config);
  Result<std::unique_ptr<Segment>> segment =
      Segment::Create({.name = config.shm.name,
                       .size = config.shm.size,
                       .reserved_bytes = Registry::BytesNeeded(specs, slots),
                       .replace = replace});
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
  uint32_t generation = segment->BumpGeneration(getpid());
  // The previous master's workers died with it (PR_SET_PDEATHSIG); free their rows.
  for (const WorkerRow& row : registry->Workers()) registry->ReleaseWorkerSlot(row.slot);
  logger.Notice(fmt::format("reattached to segment '{}' (generation {}); dict state kept",
                            config.shm.name, generation));
  return DaemonSegment{std::move(segment), *registry, true};
}

std::optional<std::string_view> PeerName(const Registry& registry, size_t u, bool backup,
                                         uint32_t id) {
  for (size_t k = 0; k < registry.peer_count(u); ++k) {
    Registry::Peer p = registry.peer(u, k);
    if (p.backup == backup && p.id == id) return p.name;
  }
  return std::nullopt;
}

// "d:", "ok:" or "nok:" + "<u>:p<i>" / "<u>:b<i>": whether the same peer exists at the
// same position in both registries. nullopt when `rest` is not a peer key at all.
std::optional<bool> SamePeer(std::string_view rest, const Registry& from, const Registry& to) {
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon + 2 > rest.size()) return std::nullopt;
  char role = rest[colon + 1];
  std::string_view digits = rest.substr(colon + 2);
  uint32_t id = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if ((role != 'p' && role != 'b') || ec != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  std::string_view u = rest.substr(0, colon);
  std::optional<size_t> ou = from.FindUpstream(u), nu = to.FindUpstream(u);
  if (!ou || !nu) return false;
  std::optional<std::string_view> a = PeerName(from, *ou, role == 'b', id);
  std::optional<std::string_view> b = PeerName(to, *nu, role == 'b', id);
  return a && b && *a == *b;
}

bool KeepEntry(std::string_view key, const Registry& from, const Registry& to) {
  // The old workers' check locks: the new workers must not wait for them.
  if (key.starts_with("l:")) return false;
  if (key.starts_with("v:")) return to.FindUpstream(key.substr(2)).has_value();
  for (std::string_view prefix : {"d:", "ok:", "nok:"}) {
    if (!key.starts_with(prefix)) continue;
    std::optional<bool> same = SamePeer(key.substr(prefix.size()), from, to);
    return same.value_or(true);  // not a peer key: a user key, kept as it is
  }
  return true;
}

}  // namespace

std::vector<RegistryUpstreamSpec> BuildSpecs(const Config& config) {
  std::vector<RegistryUpstreamSpec> specs;
  for (const UpstreamConfig& u : config.upstreams) {
    RegistryUpstreamSpec spec{.name = u.name, .primary = {}, .backup = {}, .check = u.check};
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
    if (std::optional<DaemonSegment> kept = Reattach(*open, config, logger))
      return std::move(*kept);
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
                      const Registry& new_registry) {
  size_t copied = 0;
  for (const DictEntry& e : from.Snapshot()) {
    if (!KeepEntry(e.key, old_registry, new_registry)) continue;
    if (to.Set(e.key, e.value, e.ttl_ms).ok()) ++copied;
  }
  return copied;
}

}  // namespace upcheck::daemon
