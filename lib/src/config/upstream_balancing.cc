#include "config/upstream_balancing.h"

#include <charconv>
#include <utility>

#include <fmt/format.h>

namespace upcheck::config {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t ms;
};
// "ms" before "m" and "s": the longest suffix that matches wins.
constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};

}  // namespace

Result<int64_t> ParseDurationMs(std::string_view text) {
  auto bad = [&] {
    return Result<int64_t>::Error(fmt::format(
        "bad duration {} (a whole number with ms, s, m or h, e.g. \"30s\")", Quote(text)));
  };
  for (const Unit& unit : kUnits) {
    if (text.size() <= unit.suffix.size() || !text.ends_with(unit.suffix)) continue;
    const std::string_view number = text.substr(0, text.size() - unit.suffix.size());
    int64_t n = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
    if (ec != std::errc() || end != number.data() + number.size() || n < 0) return bad();
    if (n > kMaxSlowStartMs / unit.ms) return Result<int64_t>(kMaxSlowStartMs + 1);
    return Result<int64_t>(n * unit.ms);
  }
  return bad();
}

std::string FormatDurationMs(int64_t ms) {
  if (ms != 0 && ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

void ReadUpstreamBalancing(TableReader& t, UpstreamConfig& upstream) {
  if (const toml::node* node = t.Get("slow_start")) {
    if (const auto* s = node->as_string()) {
      Result<int64_t> ms = ParseDurationMs(s->get());
      if (!ms.ok()) {
        t.ErrorAt("slow_start", ms.error());
      } else if (*ms > kMaxSlowStartMs) {
        t.ErrorAt("slow_start",
                  fmt::format("slow_start must be at most \"24h\", got {}", Quote(s->get())));
      } else {
        upstream.slow_start_ms = *ms;
      }
    } else {
      t.ErrorAt("slow_start", fmt::format("expected a duration (a string such as \"30s\" or "
                                          "\"500ms\"; \"0s\" = off), got {}",
                                          Describe(*node)));
    }
  }
  if (const auto percent = t.Integer("panic_threshold", 0, 100)) {
    upstream.panic_threshold = static_cast<int>(*percent);
  }
}

}  // namespace upcheck::config
