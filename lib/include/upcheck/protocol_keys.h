// The checker protocol's vocabulary in the shared dict (protocol.md §5): the keys one
// upstream's checkers share, what a down flag's value means (Q33) and the lock's TTL (Q20).
//
// Every process that reads or writes these keys (checkers, the daemon's reload, the tools)
// spells them through this header, so the scheme lives in one place. Pure functions of
// their input; safe from any thread and process.
#ifndef UPCHECK_PROTOCOL_KEYS_H_
#define UPCHECK_PROTOCOL_KEYS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CHECK)
#error "upcheck/protocol_keys.h belongs to check/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "upcheck/shared_dict.h"

namespace upcheck {

// kDown, kOk and kNok are per peer: the down flag and the success / failure counters.
// kVersion (the published peers version) and kLock (the probe lock) are per upstream.
// kPassiveFail and kPassiveOk are per peer and not the original's (DESIGN §10): the streak
// of failures real traffic met, and the Unix ms of its last success (with a TTL).
// kNext is per peer too: present while the peer is not yet due (a schedule's due key,
// written only when fastinter or downinter differ from interval); its value is when it
// is due, Unix ms, and it expires about then.
enum class KeyFamily : uint8_t {
  kDown,
  kOk,
  kNok,
  kVersion,
  kLock,
  kPassiveFail,
  kPassiveOk,
  kNext,
  // The fleet tier's per-upstream keys (DESIGN §11).
  kFleetVersion,
  kFleetRole,
  kFleetHolder,
  kFleetUnpublished,
  kFleetHold
};

// What every key of `family` starts with; for listing one family with a prefix scan.
std::string_view KeyPrefix(KeyFamily family);

// The key of peer `id` of `upstream`'s primary or backup list. REQUIRES: a peer family.
std::string PeerKey(KeyFamily family, std::string_view upstream, bool backup, uint32_t id);
std::string VersionKey(std::string_view upstream);
std::string LockKey(std::string_view upstream);
// The key of an upstream family (kVersion, kLock and the fleet's): prefix + upstream.
std::string UpstreamKey(KeyFamily family, std::string_view upstream);

// One peer family's keys for the peers of one list, built in one reused buffer: for loops
// over many peers that must not allocate per peer.
class PeerKeyBuffer {
 public:
  PeerKeyBuffer(KeyFamily family, std::string_view upstream, bool backup);
  // The key of peer `id`; valid until the next call.
  const std::string& For(uint32_t id);

 private:
  std::string key_;
  size_t stem_ = 0;
};

// A protocol key taken apart. For the upstream families only `upstream` is set.
struct ProtocolKey {
  KeyFamily family = KeyFamily::kDown;
  std::string_view upstream;  // points into the parsed key
  bool backup = false;
  uint32_t id = 0;
};

// Takes `key` apart, or nullopt when it is not the protocol's. A peer key's upstream is
// everything up to its last ':', which must be followed by 'p' or 'b' and a decimal id; a
// version or lock key's upstream is everything after its prefix.
std::optional<ProtocolKey> ParseProtocolKey(std::string_view key);

// The down rule (Q33): a down flag holding any value but false means down.
bool IsDownFlag(const DictValue& flag);
// The same for a lookup: no key means up.
bool IsDownFlag(const std::optional<DictValue>& flag);

// The probe lock's TTL for a check interval: interval - 1 ms, at least 1 ms.
int64_t LockTtlMs(int64_t interval_ms);

}  // namespace upcheck

#endif  // UPCHECK_PROTOCOL_KEYS_H_
