// StatusLineParser: recognises an HTTP status line the way the original's probe does.
//
// The pattern is the original's `^HTTP/\d+\.\d+\s+(\d+)`, caseless, compiled once (with
// PCRE2's JIT when the platform has it); the match data is allocated once and reused, so a
// parse allocates nothing. The status is Lua's `tonumber` of the digits: a double, leading
// zeros dropped, no upper bound (20 digits give 1e+20). protocol.md §8.
//
// Not thread-safe: one parser per thread (each checker owns one through its Prober).
#ifndef UPCHECK_PROBE_STATUS_LINE_H_
#define UPCHECK_PROBE_STATUS_LINE_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/status_line.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "upcheck/status.h"

namespace upcheck {

struct StatusLineMatch {
  bool matched = false;  // the line is a status line
  double status = 0;     // REQUIRES: matched
};

class StatusLineParser {
 public:
  static constexpr std::string_view kPattern = R"(^HTTP/\d+\.\d+\s+(\d+))";

  // Compiles `pattern` (caseless; the status is its capture group 1). `match_limit` > 0
  // caps PCRE2's backtracking; 0 keeps PCRE2's default. Both parameters exist for tests;
  // production code uses the defaults. Error: the PCRE2 compile error, with its offset.
  static Result<std::unique_ptr<StatusLineParser>> Create(std::string_view pattern = kPattern,
                                                          uint32_t match_limit = 0);
  ~StatusLineParser();
  StatusLineParser(const StatusLineParser&) = delete;
  StatusLineParser& operator=(const StatusLineParser&) = delete;

  // Whether `line` (CRs and LF already removed) is a status line, and its status.
  // Error: PCRE2 could not run the match (e.g. "pcre2_match() failed: match limit
  // exceeded"); the original logs it and then treats the line as a bad status line.
  Result<StatusLineMatch> Parse(std::string_view line);

 private:
  struct Impl;
  explicit StatusLineParser(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// PCRE2's text for an error code ("missing closing parenthesis", "match limit exceeded").
std::string Pcre2ErrorText(int code);

// Lua's `tonumber` of a run of ASCII digits: "007" -> 7, 20 digits -> 1e20, and a number
// too large for a double -> inf. REQUIRES: `digits` holds only '0'..'9' and is not empty.
double LuaToNumber(std::string_view digits);

// Lua 5.1's number-to-string conversion (`%.14g`): 404 -> "404", 1e20 -> "1e+20".
std::string FormatLuaNumber(double value);

}  // namespace upcheck

#endif  // UPCHECK_PROBE_STATUS_LINE_H_
