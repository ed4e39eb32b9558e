// Helpers shared by the operator tools (upcheck-shmctl, upcheck-status, upcheck-probe): strict
// parsing of command-line values, one-line rendering of dict values and keys, and the JSON shape of
// a dict value.
//
// Everything here is a pure function of its arguments: nothing touches the segment, nothing
// throws (errors are Result values whose message is ready to print after "tool: ").
#ifndef UPCHECK_TOOLS_CLI_COMMON_H_
#define UPCHECK_TOOLS_CLI_COMMON_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "upcheck/shared_dict.h"
#include "upcheck/status.h"

namespace upcheck::cli {

// The segment name used when neither -s nor -c is given: shm.name's default.
inline constexpr std::string_view kDefaultSegmentName = "healthcheck";

// Which segment a tool should open: -s NAME, or the shm.name of -c CONFIG (read with
// LoadConfig), else kDefaultSegmentName. Returns the name, or a one-line error.
Result<std::string> ResolveSegmentName(const std::optional<std::string>& segment_name,
                                       const std::optional<std::string>& config_path);

// ParseConfig's problems, one per line, as one line: the first, and how many more follow.
std::string OneLineProblems(std::string_view all);

// A whole string as a finite double: "12", "-3.5", "+2", "1e3", ".5". No surrounding space,
// no trailing garbage, no nan/inf, no overflow. nullopt otherwise.
std::optional<double> ParseFiniteNumber(std::string_view text);

// A number argument named `what` ("increment", "init value"). Error:
// `bad increment "x" (a finite number, e.g. 1, -2, 0.5)`.
Result<double> ParseNumberArg(std::string_view what, std::string_view text);

// A VALUE argument as the dict stores it: "true"/"false" are booleans, a number (as
// ParseFiniteNumber) is a number, anything else is a string; force_string keeps it a
// string. Text that reads as a number but is not finite ("nan", "inf", "1e999") is an
// error rather than a silent string, since the caller almost surely meant a number.
Result<DictValue> ParseValueArg(std::string_view text, bool force_string);

// --ttl: seconds, up to ms precision ("0.5" = 500 ms, "2" = 2000 ms), as milliseconds.
// "0" means "never expires". Negative, non-numeric, non-zero below 1 ms or absurdly large
// values are errors.
Result<int64_t> ParseTtlArg(std::string_view text);

// A duration as operators write it: a whole number with a unit, ms, s, m, h or d ("500ms",
// "30s", "10m"), as milliseconds. Zero, a missing or unknown unit and more than a year are
// errors: `bad duration "10x" (a whole number with ms, s, m, h or d, e.g. 30s or 10m)`.
Result<int64_t> ParseDurationArg(std::string_view text);

// A peers version as JSON: a whole one as an integer (3, not 3.0), as /status.json has it.
nlohmann::ordered_json VersionJson(double version);

// "number", "boolean" or "string" (Lua's type() names).
const char* DictValueTypeName(const DictValue& value);
// The value as a JSON number, boolean or string. Non-finite numbers become null.
nlohmann::json DictValueToJson(const DictValue& value);

// Makes text safe for one field of a tab-separated line: backslash, tab, CR, LF and other
// control bytes become \\, \t, \r, \n, \xHH. Other bytes pass through unchanged.
std::string EscapeForLine(std::string_view text);

// Milliseconds as seconds with ms precision: 812 -> "0.812", 2000 -> "2.000".
std::string FormatSecondsMs(int64_t ms);

// Unix time in ms as RFC 3339 UTC with milliseconds, "2026-11-23T18:00:00.123Z" (the form
// /status.json uses). "" for ms <= 0 (never) or a time gmtime_r cannot represent.
std::string FormatUnixMsIso(int64_t unix_ms);

}  // namespace upcheck::cli

#endif  // UPCHECK_TOOLS_CLI_COMMON_H_
