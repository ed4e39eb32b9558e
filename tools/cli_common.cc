#include "cli_common.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "upcheck/config.h"

namespace upcheck::cli {

Result<std::string> ResolveSegmentName(const std::optional<std::string>& segment_name,
                                       const std::optional<std::string>& config_path) {
  if (!config_path) return segment_name.value_or(std::string(kDefaultSegmentName));
  // Only the name is needed: a trust store that cannot be loaded from here (a relative
  // ca_file, another working directory) does not stop a tool.
  Result<Config> config = LoadConfig(*config_path, ConfigFiles::kSkip);
  if (config) return config->shm.name;
  return Result<std::string>::Error(OneLineProblems(config.error()));
}

std::string OneLineProblems(std::string_view all) {
  while (!all.empty() && all.back() == '\n') all.remove_suffix(1);
  const size_t first_end = all.find('\n');
  if (first_end == std::string_view::npos) return std::string(all);
  const auto more =
      std::count(all.begin() + static_cast<std::ptrdiff_t>(first_end), all.end(), '\n');
  return fmt::format("{} (and {} more problem{})", all.substr(0, first_end), more,
                     more == 1 ? "" : "s");
}

std::optional<double> ParseFiniteNumber(std::string_view text) {
  // from_chars accepts neither a leading '+' nor hex; Lua's tonumber takes '+', so do we.
  if (text.size() > 1 && text[0] == '+' && text[1] != '-') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::general);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// True when the text would be a number if only it were finite: "nan", "-inf", "1e999".
static bool LooksNumeric(std::string_view text) {
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) text.remove_prefix(1);
  double value = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::general);
  return (ec == std::errc() || ec == std::errc::result_out_of_range) &&
         end == text.data() + text.size() && !text.empty();
}

Result<double> ParseNumberArg(std::string_view what, std::string_view text) {
  if (std::optional<double> n = ParseFiniteNumber(text)) return *n;
  return Result<double>::Error(
      fmt::format("bad {} \"{}\" (a finite number, e.g. 1, -2, 0.5)", what, EscapeForLine(text)));
}

Result<DictValue> ParseValueArg(std::string_view text, bool force_string) {
  // One DictValue assigned in place: returning a temporary variant per branch trips GCC 12's
  // -Wmaybe-uninitialized (a false positive) under -fsanitize.
  DictValue value;
  // NOLINTNEXTLINE(bugprone-branch-clone): forced text, and text that is not a number below.
  if (force_string) {
    value = std::string(text);
  } else if (text == "true" || text == "false") {
    value = text == "true";
  } else if (std::optional<double> n = ParseFiniteNumber(text)) {
    value = *n;
  } else if (LooksNumeric(text)) {
    return Result<DictValue>::Error(
        fmt::format("bad value \"{}\": not a finite number (use --string to store it as text)",
                    EscapeForLine(text)));
  } else {
    value = std::string(text);
  }
  return value;
}

Result<int64_t> ParseTtlArg(std::string_view text) {
  // About 31 years: far beyond any sane TTL, far below int64 milliseconds.
  constexpr double kMaxSeconds = 1e9;
  std::optional<double> seconds = ParseFiniteNumber(text);
  if (!seconds || *seconds < 0 || *seconds > kMaxSeconds) {
    return Result<int64_t>::Error(fmt::format(
        "bad ttl \"{}\" (seconds from 0 to 1e9, ms precision, e.g. 0.5; 0 = never expires)",
        EscapeForLine(text)));
  }
  auto ms = static_cast<int64_t>(std::llround(*seconds * 1000));
  if (ms == 0 && *seconds > 0) {
    return Result<int64_t>::Error(
        fmt::format("bad ttl \"{}\" (below 1 ms; 0 = never expires)", EscapeForLine(text)));
  }
  return ms;
}

Result<int64_t> ParseDurationArg(std::string_view text) {
  constexpr int64_t kMaxMs = int64_t{366} * 24 * 3600 * 1000;
  constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  size_t digits = 0;
  while (digits < text.size() && digits < 12 && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  const std::string_view unit = text.substr(digits);
  int64_t value = 0;
  for (size_t i = 0; i < digits; ++i) value = value * 10 + (text[i] - '0');
  for (const auto& [name, ms] : kUnits) {
    if (digits > 0 && unit == name && value > 0 && value <= kMaxMs / ms) return value * ms;
  }
  return Result<int64_t>::Error(fmt::format(
      "bad duration \"{}\" (a whole number with ms, s, m, h or d, up to a year, e.g. 30s or 10m)",
      EscapeForLine(text)));
}

const char* DictValueTypeName(const DictValue& value) {
  if (std::holds_alternative<double>(value)) return "number";
  if (std::holds_alternative<bool>(value)) return "boolean";
  return "string";
}

nlohmann::json DictValueToJson(const DictValue& value) {
  if (const double* d = std::get_if<double>(&value)) {
    if (!std::isfinite(*d)) return nullptr;
    // Whole numbers print as 3, not 3.0, as Lua's tostring() would.
    constexpr double kExactInt = 9007199254740992.0;  // 2^53
    if (std::trunc(*d) == *d && std::fabs(*d) <= kExactInt) return static_cast<int64_t>(*d);
    return *d;
  }
  if (const bool* b = std::get_if<bool>(&value)) return *b;
  return std::get<std::string>(value);
}

std::string EscapeForLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out;
}

nlohmann::ordered_json VersionJson(double version) {
  constexpr double kExactInt = 9007199254740992.0;  // 2^53
  if (std::trunc(version) == version && std::fabs(version) <= kExactInt) {
    return static_cast<int64_t>(version);
  }
  return version;
}

std::string FormatSecondsMs(int64_t ms) { return fmt::format("{}.{:03}", ms / 1000, ms % 1000); }

std::string FormatUnixMsIso(int64_t unix_ms) {
  if (unix_ms <= 0) return "";
  const auto seconds = static_cast<time_t>(unix_ms / 1000);
  struct tm tm {};
  if (gmtime_r(&seconds, &tm) == nullptr) return "";
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, unix_ms % 1000);
}

}  // namespace upcheck::cli
