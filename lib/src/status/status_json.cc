// /status.json (DESIGN §5): the facts of the status page plus per-peer details.
//
// Built for pages of 10,000 peers in a few milliseconds: the document is written by hand
// into one reserved string, byte for byte as nlohmann::json's dump() writes it (compact,
// ensure_ascii off, invalid UTF-8 replaced by U+FFFD, floats as its to_chars prints them).
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "upcheck/internal/status_details.h"
#include "upcheck/protocol_keys.h"
#include "util/clock.h"

namespace upcheck {
namespace {

// The length of the valid UTF-8 sequence at s[i], or 0 if it is invalid there; *bad is
// then where to resume (the first byte that broke the sequence, read again).
size_t Utf8Length(std::string_view s, size_t i, size_t* bad) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    *bad = i + 1;
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= s.size()) {
      *bad = s.size();  // an unfinished sequence at the end: one replacement
      return 0;
    }
    const unsigned char min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
    if (b(i + k) < min || b(i + k) > max) {
      *bad = i + k;
      return 0;
    }
  }
  return len;
}

// A JSON string as nlohmann's dump(-1, ' ', false, replace) writes it.
void AppendString(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    size_t run = i;  // plain ASCII runs are copied at once
    while (run < s.size()) {
      const unsigned char c = static_cast<unsigned char>(s[run]);
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
      ++run;
    }
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t bad = 0;
      const size_t len = Utf8Length(s, i, &bad);
      if (len > 0) {
        out.append(s.data() + i, len);
        i += len;
      } else {
        out.append("\xEF\xBF\xBD");
        i = bad;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default: {
        constexpr char kHex[] = "0123456789abcdef";
        const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(escaped, sizeof(escaped));
      }
    }
    ++i;
  }
  out.push_back('"');
}

void AppendInt(std::string& out, int64_t value) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, end);
}

// A double as nlohmann prints it: the shortest digits, plain notation for decimal
// exponents in (-4, 15] with ".0" on whole numbers, else d.ddde+XX; null if not finite.
void AppendDouble(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out.append("null");
    return;
  }
  if (std::signbit(value)) out.push_back('-');
  value = std::fabs(value);
  if (value == 0) {
    out.append("0.0");
    return;
  }
  char sci[32];  // "d.ddde-XX"
  const auto [end, ec] =
      std::to_chars(sci, sci + sizeof(sci), value, std::chars_format::scientific);
  const char* e = static_cast<const char*>(std::memchr(sci, 'e', static_cast<size_t>(end - sci)));
  int exponent = 0;
  std::from_chars(e[1] == '+' ? e + 2 : e + 1, end, exponent);
  char digits[20];
  int k = 0;
  for (const char* p = sci; p < e; ++p) {
    if (*p != '.') digits[k++] = *p;
  }
  const int n = exponent + 1;  // where the point goes, counted from the first digit
  if (k <= n && n <= 15) {
    out.append(digits, static_cast<size_t>(k)).append(static_cast<size_t>(n - k), '0');
    out.append(".0");
  } else if (0 < n && n <= 15) {
    out.append(digits, static_cast<size_t>(n)).push_back('.');
    out.append(digits + n, static_cast<size_t>(k - n));
  } else if (-4 < n && n <= 0) {
    out.append("0.").append(static_cast<size_t>(-n), '0').append(digits, static_cast<size_t>(k));
  } else {
    out.push_back(digits[0]);
    if (k > 1) out.append(".").append(digits + 1, static_cast<size_t>(k - 1));
    out.append(exponent < 0 ? "e-" : "e+");
    const int magnitude = std::abs(exponent);
    if (magnitude < 10) out.push_back('0');
    AppendInt(out, magnitude);
  }
}

// Dict numbers and versions are doubles; print the whole ones as integers ("3", not "3.0").
void AppendNumber(std::string& out, double value) {
  if (std::isfinite(value) && value == std::trunc(value) && std::fabs(value) < 9.0e15) {
    AppendInt(out, static_cast<int64_t>(value));
  } else {
    AppendDouble(out, value);
  }
}

void AppendDigits(char* at, int value, int width) {
  for (int i = width - 1; i >= 0; --i, value /= 10) at[i] = static_cast<char>('0' + value % 10);
}

// "2026-11-23T18:00:00.123Z", or null for 0 (never). Civil date from days since the epoch
// (H. Hinnant's algorithm): no gmtime_r, no snprintf.
void AppendRfc3339(std::string& out, int64_t unix_ms) {
  if (unix_ms <= 0) {
    out.append("null");
    return;
  }
  const int64_t seconds = unix_ms / 1000, days = seconds / 86400, in_day = seconds % 86400;
  const int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int64_t year = yoe + era * 400 + (month <= 2);
  if (year > 9999) {
    out.append("null");
    return;
  }
  char text[] = "\"0000-00-00T00:00:00.000Z\"";
  AppendDigits(text + 1, static_cast<int>(year), 4);
  AppendDigits(text + 6, month, 2);
  AppendDigits(text + 9, day, 2);
  AppendDigits(text + 12, static_cast<int>(in_day / 3600), 2);
  AppendDigits(text + 15, static_cast<int>(in_day / 60 % 60), 2);
  AppendDigits(text + 18, static_cast<int>(in_day % 60), 2);
  AppendDigits(text + 21, static_cast<int>(unix_ms % 1000), 3);
  out.append(text, sizeof(text) - 1);
}

double DictNumber(SharedDict* dict, const std::string& key) {
  if (dict == nullptr) return 0;
  Result<std::optional<DictValue>> got = dict->Get(key);
  if (!got.ok() || !got->has_value()) return 0;
  const double* number = std::get_if<double>(&**got);
  return number != nullptr ? *number : 0;
}

// {"body":3,...}: the nonzero counts only, in kFailureResults' order, so that a peer that
// never failed costs two bytes.
void AppendFailureCounts(std::string& out, const FailureCounts& counts) {
  out.push_back('{');
  bool first = true;
  for (size_t r = 0; r < counts.size(); ++r) {
    if (counts[r] == 0) continue;
    out.append(first ? "\"" : ",\"").append(kFailureResults[r]).append("\":");
    AppendInt(out, static_cast<int64_t>(counts[r]));
    first = false;
  }
  out.push_back('}');
}

// How the JSON prints each kind of field of peer_fields.h, as `,"key":value`.
#define UPCHECK_PEER_JSON_Int(key, value) \
  out.append(",\"" key "\":");            \
  AppendInt(out, static_cast<int64_t>(value));
#define UPCHECK_PEER_JSON_Time(key, value) \
  out.append(",\"" key "\":");             \
  AppendRfc3339(out, value);
#define UPCHECK_PEER_JSON_TimeIfSet(key, value) \
  if ((value) > 0) {                            \
    out.append(",\"" key "\":");                \
    AppendRfc3339(out, value);                  \
  }
#define UPCHECK_PEER_JSON_Double(key, value) \
  out.append(",\"" key "\":");               \
  AppendDouble(out, value);
#define UPCHECK_PEER_JSON_String(key, value) \
  out.append(",\"" key "\":");               \
  AppendString(out, value);
#define UPCHECK_PEER_JSON_ByResult(key, value) \
  out.append(",\"" key "\":");                 \
  AppendFailureCounts(out, value);
#define UPCHECK_PEER_JSON_None(key, value)
#define UPCHECK_PEER_JSON(member, type, shm, json_key, json) \
  UPCHECK_PEER_JSON_##json(json_key, d.member)

void AppendDetails(std::string& out, const PeerDetails& d) {
  UPCHECK_PEER_FIELDS(UPCHECK_PEER_JSON)
}

// ,"passive_failures":N, the streak of failures real traffic met, for a peer that has one
// (passive checks, DESIGN §10): peers of upstreams without them print nothing.
void AppendPassiveStreak(std::string& out, SharedDict* dict, const std::string& key) {
  if (dict == nullptr) return;
  Result<std::optional<DictValue>> got = dict->Get(key);
  if (!got.ok() || !got->has_value()) return;
  const double* streak = std::get_if<double>(&**got);
  out.append(",\"passive_failures\":");
  AppendNumber(out, streak != nullptr ? *streak : 0);
}

// The operator's override as the registry holds it now (an expired one reads "auto").
void AppendAdmin(std::string& out, const PeerAdmin& admin) {
  out.append(",\"admin\":\"").append(AdminStateName(admin.state)).append("\",\"admin_reason\":");
  AppendString(out, admin.reason);
  out.append(",\"admin_expires\":");
  AppendRfc3339(out, admin.expires_ms);
}

// The share the balancer gives the peer (SlowStartWeight), for upstreams with slow_start.
void AppendSlowStart(std::string& out, const Registry& registry, size_t u, const PeerInfo& peer,
                     int64_t now_ms) {
  const int64_t slow_start_ms = registry.slow_start_ms(u);
  if (slow_start_ms <= 0) return;
  out.append(",\"slow_start_weight\":");
  AppendNumber(out, SlowStartWeight(peer.down, registry.last_change_ms(u, peer.backup, peer.id),
                                    slow_start_ms, now_ms));
}

// Whether the balancers pick among all primaries, for upstreams with panic_threshold.
void AppendPanic(std::string& out, const Registry* registry, std::optional<size_t> u) {
  if (!u || registry->panic_threshold(*u) == 0) return;
  out.append(registry->panic(*u) ? ",\"panic\":true,\"panic_total\":"
                                 : ",\"panic\":false,\"panic_total\":");
  AppendInt(out, static_cast<int64_t>(registry->panic_total(*u)));
}

// This host's part in the upstream's fleet (DESIGN §11), once its checkers took one.
void AppendFleet(std::string& out, const Registry* registry, std::optional<size_t> u) {
  const FleetRole role = u ? registry->fleet_role(*u) : FleetRole::kNone;
  if (role == FleetRole::kNone) return;
  out.append(",\"fleet\":{\"role\":\"").append(FleetRoleName(role));
  out.append("\",\"version\":");
  AppendNumber(out, registry->fleet_version(*u));
  out.append(",\"fallbacks\":");
  AppendInt(out, static_cast<int64_t>(registry->fleet_fallbacks(*u)));
  out.push_back('}');
}

void AppendPeers(std::string& out, std::string_view upstream, std::span<const PeerInfo> peers,
                 bool backup, const Registry* registry, std::optional<size_t> registry_index,
                 SharedDict* dict, bool& first) {
  const int64_t now_ms = registry != nullptr && registry_index ? UnixMs() : 0;
  // One buffer per counter family for the whole list: no allocation per peer.
  PeerKeyBuffer ok_key(KeyFamily::kOk, upstream, backup);
  PeerKeyBuffer nok_key(KeyFamily::kNok, upstream, backup);
  PeerKeyBuffer passive_key(KeyFamily::kPassiveFail, upstream, backup);
  for (const PeerInfo& peer : peers) {
    char id[16];
    const std::string_view id_text(id, std::to_chars(id, id + sizeof(id), peer.id).ptr);
    out.append(first ? "{\"name\":" : ",{\"name\":");
    first = false;
    AppendString(out, peer.name);
    out.append(backup ? ",\"role\":\"backup\",\"id\":" : ",\"role\":\"primary\",\"id\":");
    out.append(id_text);
    out.append(peer.down ? ",\"up\":false,\"ok\":" : ",\"up\":true,\"ok\":");
    AppendNumber(out, dict != nullptr ? DictNumber(dict, ok_key.For(peer.id)) : 0);
    out.append(",\"nok\":");
    AppendNumber(out, dict != nullptr ? DictNumber(dict, nok_key.For(peer.id)) : 0);
    AppendPassiveStreak(out, dict, passive_key.For(peer.id));
    if (registry != nullptr && registry_index) {
      AppendDetails(out, registry->details(*registry_index, backup, peer.id));
      AppendAdmin(out, registry->admin(*registry_index, backup, peer.id, now_ms));
      AppendSlowStart(out, *registry, *registry_index, peer, now_ms);
    }
    out.push_back('}');
  }
}

}  // namespace

std::string StatusJson(const Upstreams& view, const Registry* registry, SharedDict* dict,
                       int worker_pid) {
  std::string out;
  AppendStatusJson(out, view, registry, dict, worker_pid);
  return out;
}

void AppendStatusJson(std::string& out, const Upstreams& view, const Registry* registry,
                      SharedDict* dict, int worker_pid) {
  view.RunBeforeReadHook();
  size_t size = 64;  // per peer: the keys and fixed values, a name and an error text
  for (size_t i = 0; i < view.upstream_count(); ++i) {
    size += 96 + view.upstream_name(i).size();
    for (bool backup : {false, true}) {
      for (const PeerInfo& peer : backup ? view.backup_peers(i) : view.primary_peers(i)) {
        size += 416 + 2 * peer.name.size();
      }
    }
  }
  out.reserve(out.size() + size);
  out.append("{\"worker_pid\":");
  AppendInt(out, worker_pid);
  out.append(",\"upstreams\":[");
  for (size_t i = 0; i < view.upstream_count(); ++i) {
    const std::string_view name = view.upstream_name(i);
    std::optional<size_t> index;
    if (registry != nullptr) index = registry->FindUpstream(name);
    out.append(i == 0 ? "{\"name\":" : ",{\"name\":");
    AppendString(out, name);
    out.append(",\"checkers\":");
    AppendInt(out, view.checker_count(i));
    out.append(",\"version\":");
    AppendNumber(out, index ? registry->published_version(*index) : 0);
    AppendPanic(out, registry, index);
    AppendFleet(out, registry, index);
    out.append(",\"peers\":[");
    bool first = true;
    AppendPeers(out, name, view.primary_peers(i), /*backup=*/false, registry, index, dict, first);
    AppendPeers(out, name, view.backup_peers(i), /*backup=*/true, registry, index, dict, first);
    out.append("]}");
  }
  out.append("]}");
}

std::string StatusJson(const Upstreams& view, const Registry* registry, int worker_pid) {
  return StatusJson(view, registry, nullptr, worker_pid);
}

}  // namespace upcheck
