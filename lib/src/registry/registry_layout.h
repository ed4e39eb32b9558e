// The registry area as it lies in the segment (see upcheck/internal/registry.h).
//
// header | UpstreamShm[upstream_count] | PeerShm[peer_count] | WorkerSlotShm[max_workers]
//        | versions: atomic<uint64_t>[max_workers * upstream_count] | string pool
// Offsets are from the start of the area. Plain data only; the fields that change after
// set-up are lock-free atomics. A reader checks every offset against the area size.
#ifndef UPCHECK_REGISTRY_REGISTRY_LAYOUT_H_
#define UPCHECK_REGISTRY_REGISTRY_LAYOUT_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_REGISTRY)
#error "registry/registry_layout.h belongs to registry/, a layer above (see lib/meson.build)"
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "upcheck/internal/peer_fields.h"

namespace upcheck::shm {

// "ucregis9": 9 since upstreams carry the fleet tier's role, version and fallbacks. The last
// byte is the layout's version: a tool that reads another one refuses the segment.
inline constexpr uint64_t kRegistryMagic = 0x7563726567697339ull;

// The longest admin reason kept (bytes); longer ones are refused, not cut.
inline constexpr size_t kAdminReasonBytes = 200;

// Counters of failures by result: one per kFailureResults name, and a spare slot that keeps
// the record packed to 8 bytes. 32 bits keep them at 40 bytes a peer: one result failing
// every 10 ms wraps after 16 months, which Prometheus reads as a counter reset.
inline constexpr size_t kFailureResultSlots = 10;
static_assert(kFailureResults.size() <= kFailureResultSlots);

struct StringRefShm {
  uint32_t offset;  // into the string pool
  uint32_t length;
};

struct UpstreamShm {
  StringRefShm name;
  StringRefShm check_json;  // length 0: no checker configured
  uint32_t first_peer;      // index into the peer array
  uint32_t primary_count;
  uint32_t backup_count;
  std::atomic<uint32_t> fleet_role;         // FleetRole of the last cycle of the host's lock winner
  std::atomic<uint64_t> published_version;  // bit pattern of a double
  // Bumped after every admin change of one of its peers: a picker compares it with the
  // value it last applied (one load) and reads the peers' AdminShm only when it moved.
  std::atomic<uint64_t> admin_seq;
  // The balancer's settings (DESIGN §10), written at set-up; 0: off.
  int64_t slow_start_ms;
  uint32_t panic_threshold;  // percent
  // 1 while the balancers pick among all primaries; swapped, so one process sees each change.
  std::atomic<uint32_t> panic;
  std::atomic<uint64_t> panic_total;  // entries into panic
  // The fleet tier (DESIGN §11): the fleet version held (bit pattern of a double) and the
  // falls back to probing alone.
  std::atomic<uint64_t> fleet_version;
  std::atomic<uint64_t> fleet_fallbacks;
};

// How PeerDetailsShm keeps each kind of field of peer_fields.h (OUTCOME: not at all, it is
// rendered from kind, timed_out and detail).
#define UPCHECK_PEER_SHM_U64(member) std::atomic<uint64_t> member;
#define UPCHECK_PEER_SHM_U32(member) std::atomic<uint32_t> member;
#define UPCHECK_PEER_SHM_I64(member) std::atomic<int64_t> member;
#define UPCHECK_PEER_SHM_US(member) std::atomic<uint32_t> member;
#define UPCHECK_PEER_SHM_BY_RESULT(member) std::atomic<uint32_t> member[kFailureResultSlots];
#define UPCHECK_PEER_SHM_OUTCOME(member)
#define UPCHECK_PEER_SHM_MEMBER(member, type, shm, json_key, json) UPCHECK_PEER_SHM_##shm(member)

// One peer's details, written by the prober under a sequence lock (odd: being written).
struct PeerDetailsShm {
  std::atomic<uint32_t> seq;
  std::atomic<uint8_t> kind;  // 0 never; 1 + ProbeKind
  std::atomic<uint8_t> timed_out;
  std::atomic<uint8_t> detail_len;
  uint8_t reserved;
  UPCHECK_PEER_FIELDS(UPCHECK_PEER_SHM_MEMBER)
  // <err>, truncated: room for the 200 bytes of a bad status line that last_error shows
  // (and the bytes beyond, so that it knows to end with "..." as the log line does).
  char detail[204];
};
static_assert(sizeof(PeerDetailsShm) == 320, "peer_fields.h's order must leave no padding");

// One peer's admin state, written by upcheck-shmctl under a sequence lock (odd: being
// written). An expiry in the past reads as AdminState::kAuto: no process has to clear it.
struct AdminShm {
  std::atomic<uint32_t> seq;
  std::atomic<uint8_t> state;  // AdminState
  std::atomic<uint8_t> reason_len;
  uint8_t reserved[2];
  std::atomic<int64_t> expires_ms;  // Unix time, ms; 0: never
  std::atomic<int64_t> changed_ms;  // Unix time, ms, of the last change
  char reason[kAdminReasonBytes];
};

struct PeerShm {
  StringRefShm name;
  uint32_t upstream;
  uint32_t id;
  uint8_t backup;
  uint8_t configured_down;
  uint8_t reserved[6];
  PeerDetailsShm details;
  AdminShm admin;
};

struct WorkerSlotShm {
  std::atomic<int32_t> pid;
  std::atomic<uint32_t> state;
  std::atomic<uint32_t> checkers;
  uint32_t reserved;
  std::atomic<int64_t> started_ms;
  std::atomic<int64_t> cycle_start_ms;
  std::atomic<int64_t> cycle_end_ms;
  std::atomic<uint64_t> cycles;
};

struct RegistryHeaderShm {
  uint64_t magic;
  uint64_t bytes;
  uint32_t upstream_count;
  uint32_t peer_count;
  uint32_t max_workers;
  uint32_t reserved;
  uint64_t upstreams_offset;
  uint64_t peers_offset;
  uint64_t workers_offset;
  uint64_t versions_offset;
  uint64_t strings_offset;
  uint64_t strings_bytes;
};

static_assert(std::atomic<uint64_t>::is_always_lock_free &&
              std::atomic<int64_t>::is_always_lock_free);
static_assert(std::atomic<uint8_t>::is_always_lock_free &&
              std::atomic<uint32_t>::is_always_lock_free);
static_assert(std::is_standard_layout_v<RegistryHeaderShm> &&
              std::is_trivially_destructible_v<RegistryHeaderShm>);
static_assert(std::is_standard_layout_v<UpstreamShm> &&
              std::is_trivially_destructible_v<UpstreamShm>);
static_assert(std::is_standard_layout_v<AdminShm> && std::is_trivially_destructible_v<AdminShm>);
static_assert(std::is_standard_layout_v<PeerShm> && std::is_trivially_destructible_v<PeerShm>);
static_assert(std::is_standard_layout_v<WorkerSlotShm> &&
              std::is_trivially_destructible_v<WorkerSlotShm>);

}  // namespace upcheck::shm

#endif  // UPCHECK_REGISTRY_REGISTRY_LAYOUT_H_
