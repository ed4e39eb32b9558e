// The key scheme itself: "d:", "ok:", "nok:" and "next:" + "<upstream>:p<id>" or ":b<id>"
// for a peer, "v:" and "l:" + "<upstream>" for an upstream. healthcheck.lua spells them so.
// Passive checks add "pf:" (failure streak) and "ps:" (last success) per peer; the fleet tier
// "fv:" (the fleet version held), "fr:" (the last role), "fh:" (the fleet lock's holder) and
// "fu:" (a change not yet published to the fleet) and "fk:" (the fleet lock is this host's
// while the key lives) per upstream.
#include "upcheck/protocol_keys.h"

#include <charconv>

namespace upcheck {
namespace {

constexpr std::string_view kPrefixes[] = {
    "d:", "ok:", "nok:", "v:", "l:", "pf:", "ps:", "next:", "fv:", "fr:", "fh:", "fu:", "fk:"};
constexpr KeyFamily kUpstreamFamilies[] = {KeyFamily::kVersion,      KeyFamily::kLock,
                                           KeyFamily::kFleetVersion, KeyFamily::kFleetRole,
                                           KeyFamily::kFleetHolder,  KeyFamily::kFleetUnpublished,
                                           KeyFamily::kFleetHold};
constexpr KeyFamily kPeerFamilies[] = {KeyFamily::kDown,      KeyFamily::kOk,
                                       KeyFamily::kNok,       KeyFamily::kPassiveFail,
                                       KeyFamily::kPassiveOk, KeyFamily::kNext};

std::string KeyOf(KeyFamily family, std::string_view upstream) {
  std::string key(KeyPrefix(family));
  key.append(upstream);
  return key;
}

void AppendRole(std::string& key, bool backup) { key.append(backup ? ":b" : ":p"); }

void AppendId(std::string& key, uint32_t id) {
  char digits[16];
  key.append(digits, std::to_chars(digits, digits + sizeof(digits), id).ptr);
}

// "<upstream>:p<id>" / "<upstream>:b<id>", split at the last ':'.
std::optional<ProtocolKey> ParsePeerSuffix(KeyFamily family, std::string_view rest) {
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon + 2 > rest.size()) return std::nullopt;
  const char role = rest[colon + 1];
  const std::string_view digits = rest.substr(colon + 2);
  uint32_t id = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if ((role != 'p' && role != 'b') || ec != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return ProtocolKey{family, rest.substr(0, colon), role == 'b', id};
}

}  // namespace

std::string_view KeyPrefix(KeyFamily family) { return kPrefixes[static_cast<size_t>(family)]; }

std::string PeerKey(KeyFamily family, std::string_view upstream, bool backup, uint32_t id) {
  std::string key = KeyOf(family, upstream);
  AppendRole(key, backup);
  AppendId(key, id);
  return key;
}

std::string VersionKey(std::string_view upstream) { return KeyOf(KeyFamily::kVersion, upstream); }
std::string LockKey(std::string_view upstream) { return KeyOf(KeyFamily::kLock, upstream); }
std::string UpstreamKey(KeyFamily family, std::string_view upstream) {
  return KeyOf(family, upstream);
}

PeerKeyBuffer::PeerKeyBuffer(KeyFamily family, std::string_view upstream, bool backup)
    : key_(KeyOf(family, upstream)) {
  AppendRole(key_, backup);
  stem_ = key_.size();
}

const std::string& PeerKeyBuffer::For(uint32_t id) {
  key_.resize(stem_);
  AppendId(key_, id);
  return key_;
}

std::optional<ProtocolKey> ParseProtocolKey(std::string_view key) {
  for (const KeyFamily family : kUpstreamFamilies) {
    if (key.starts_with(KeyPrefix(family))) {
      return ProtocolKey{family, key.substr(KeyPrefix(family).size()), false, 0};
    }
  }
  for (const KeyFamily family : kPeerFamilies) {
    if (key.starts_with(KeyPrefix(family))) {
      return ParsePeerSuffix(family, key.substr(KeyPrefix(family).size()));
    }
  }
  return std::nullopt;
}

bool IsDownFlag(const DictValue& flag) {
  const bool* b = std::get_if<bool>(&flag);
  return b == nullptr || *b;
}

bool IsDownFlag(const std::optional<DictValue>& flag) {
  return flag.has_value() && IsDownFlag(*flag);
}

int64_t LockTtlMs(int64_t interval_ms) { return interval_ms - 1 < 1 ? 1 : interval_ms - 1; }

}  // namespace upcheck
