// DaemonSegment: the master's segment for one configuration: the shm segment, its
// registry (upstreams, peers, check options, worker table) and how it came to be.
//
// Master only, at start-up and on reload, before any worker of that configuration is
// forked. Workers inherit the mapping across fork() and attach to the registry themselves.
// Errors are one-line messages for the operator ("upcheckd already running (pid 42) with
// segment 'x'").
#ifndef UPCHECK_WORKERS_DAEMON_SEGMENT_H_
#define UPCHECK_WORKERS_DAEMON_SEGMENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "upcheck/config.h"
#include "upcheck/internal/registry.h"
#include "upcheck/internal/segment_setup.h"
#include "upcheck/log.h"
#include "upcheck/segment.h"
#include "upcheck/status.h"

namespace upcheck::daemon {

// Worker-table slots beyond daemon.workers: a respawned worker may claim its slot before
// the master has released the dead one's (it never does today, but a spare costs little).
inline constexpr uint32_t kSpareWorkerSlots = 4;

struct DaemonSegment {
  std::unique_ptr<Segment> segment;
  Registry registry;
  bool reattached = false;  // persist: an earlier run's segment, dict state kept
};

// The registry's description of `config`'s upstreams.
std::vector<RegistryUpstreamSpec> BuildSpecs(const Config& config);
uint32_t MaxWorkerSlots(const Config& config);

// Whether `registry` describes the same upstreams as `config`: same names in the same
// order, same peer names and roles in the same order, same max worker slots or more, and a
// checker where the config has one.
bool RegistryMatches(const Registry& registry, const Config& config);

// Start-up: creates the segment named config.shm.name. With persist, reattaches to a
// matching segment left by a dead master (BumpGeneration). A segment whose creator is
// alive is an error; one from a dead master is replaced.
Result<DaemonSegment> SetUpSegment(const Config& config, const Logger& logger);

// Reload: a fresh segment under config.shm.name, removing the name first when it is ours
// (mappings of the old one stay valid for the old workers).
Result<DaemonSegment> ReplaceSegment(const Config& config, std::string_view current_name,
                                     const Logger& logger);

// Reload: copies the live entries of `from` (described by `old_registry`) into `to`
// (described by `new_registry`), with their remaining TTLs and in their LRU order.
// kPositional copies every key as it is (the original's dict survives a HUP, locks
// included); kByPeer moves each peer's keys to its new position (see ReloadState).
// Either way the peers still in the config keep their admin states. Returns how many
// entries were copied.
size_t CarryDictState(SharedDict& from, const Registry& old_registry, SharedDict& to,
                      const Registry& new_registry, ReloadState mode);

}  // namespace upcheck::daemon

#endif  // UPCHECK_WORKERS_DAEMON_SEGMENT_H_
