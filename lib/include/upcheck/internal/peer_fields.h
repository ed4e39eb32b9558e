// Internal to this source tree (upcheckd, the tools and the tests); not installed.
// The per-peer check fields, declared once. PeerDetails (registry.h) is made of this list,
// the registry's shm record stores it, /status.json prints it in this order and the
// upcheck_* metrics read its members: a field added here reaches every one of them.
//
// X(member, type, shm, json_key, json):
//   type  PeerDetails' member type.
//   shm   how the shm record keeps it: U64, U32, I64 (an atomic of that width), US (ms
//         held as whole microseconds in an atomic uint32), BY_RESULT (an atomic uint32 per
//         kFailureResults name) or OUTCOME (rendered from the stored probe outcome: kind,
//         timed_out, detail).
//   json  Int, Time (RFC 3339 with ms, null for 0), TimeIfSet (the same, but the key is
//         left out for 0), Double, String, ByResult (an object of the nonzero counts by
//         name), or None (not shown).
// The order also packs the shm record without padding (a static_assert holds it to 320
// bytes).
#ifndef UPCHECK_INTERNAL_PEER_FIELDS_H_
#define UPCHECK_INTERNAL_PEER_FIELDS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_REGISTRY)
#error "upcheck/internal/peer_fields.h belongs to registry/, a layer above (see lib/meson.build)"
#endif

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace upcheck {

// The results a failed check is counted under: DESIGN §5's `last_result` values but "ok".
// A name's index is its counter's slot in the segment: append only.
inline constexpr std::array<std::string_view, 9> kFailureResults = {
    "connect", "tls", "send", "timeout", "receive", "status_line", "status_code", "header", "body"};

// Failed checks by result, indexed as kFailureResults.
using FailureCounts = std::array<uint64_t, kFailureResults.size()>;

// The index of `result` in kFailureResults; kFailureResults.size() when it has none.
constexpr size_t FailureResultIndex(std::string_view result) {
  size_t i = 0;
  while (i < kFailureResults.size() && kFailureResults[i] != result) ++i;
  return i;
}

}  // namespace upcheck

#define UPCHECK_PEER_FIELDS(X)                                                                    \
  X(checks, uint64_t, U64, "checks", Int)     /* counted probes */                                \
  X(failures, uint64_t, U64, "failures", Int) /* of which failed */                               \
  X(failures_by_result, FailureCounts, BY_RESULT, "failures_by_result", ByResult)                 \
  X(last_check_ms, int64_t, I64, "last_check", Time) /* Unix time, ms; 0: never */                \
  X(last_duration_ms, double, US, "last_duration_ms", Double)                                     \
  X(turned_up, uint64_t, U32, "turned_up", None)                                                  \
  /* "" (never), "ok", or one of kFailureResults */                                               \
  X(last_result, std::string, OUTCOME, "last_result", String)                                     \
  X(last_error, std::string, OUTCOME, "last_error", String) /* the original's message */          \
  X(last_change_ms, int64_t, I64, "last_change", Time)    /* last transition, Unix ms; 0: none */ \
  X(next_check_ms, int64_t, I64, "next_check", TimeIfSet) /* when due next, Unix ms */            \
  /* connections a balancer saw fail (passive checks); active probes skipped for them */          \
  X(passive_failures, uint64_t, U64, "passive_failures_total", None)                              \
  X(active_skipped, uint64_t, U64, "active_skipped", None)                                        \
  X(turned_down, uint64_t, U32, "turned_down", None)

#endif  // UPCHECK_INTERNAL_PEER_FIELDS_H_
