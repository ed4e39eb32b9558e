// The balancer keys of an [[upstream]] (DESIGN §10): slow_start, a duration, and
// panic_threshold, a percent. Internal to lib/src/config; single-threaded. Problems go to
// the reader's Diagnostics as "file:line:col: upstream[i].key: message".
#ifndef UPCHECK_CONFIG_UPSTREAM_BALANCING_H_
#define UPCHECK_CONFIG_UPSTREAM_BALANCING_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CONFIG)
#error "config/upstream_balancing.h belongs to config/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <string>
#include <string_view>

#include "config/toml_reader.h"
#include "upcheck/config.h"
#include "upcheck/status.h"

namespace upcheck::config {

inline constexpr int64_t kMaxSlowStartMs = 86'400'000;  // a day

// "500ms", "30s", "2m", "1h" (a whole number and a unit) to milliseconds. The error says
// `bad duration "3x" (a whole number with ms, s, m or h, e.g. "30s")`.
Result<int64_t> ParseDurationMs(std::string_view text);
// The shortest ParseDurationMs() spelling: 30000 gives "30s", 1500 gives "1500ms".
std::string FormatDurationMs(int64_t ms);

// Reads slow_start and panic_threshold into `upstream`; absent keys leave them 0 (off).
void ReadUpstreamBalancing(TableReader& t, UpstreamConfig& upstream);

}  // namespace upcheck::config

#endif  // UPCHECK_CONFIG_UPSTREAM_BALANCING_H_
