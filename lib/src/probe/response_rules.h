// Response rules beyond the original's valid_statuses (DESIGN §9): expect_status, expect_header
// and expect_body, parsed and compiled once per prober, and judged against each answer.
//
// StatusRule and ParseStatusRules are plain and pure. ResponseMatcher owns the compiled
// PCRE2 patterns (JIT when the platform has it) and one match data block, reused, so a
// match allocates nothing: one matcher per prober, loop thread only, like StatusLineParser.
#ifndef UPCHECK_PROBE_RESPONSE_RULES_H_
#define UPCHECK_PROBE_RESPONSE_RULES_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/response_rules.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "upcheck/status.h"

namespace upcheck {

// One expect_status entry: "200", "2xx", "200-399", each optionally after "!".
struct StatusRule {
  double low = 0;
  double high = 0;  // inclusive
  bool negated = false;
};

// Parses the entries in order. Error: `bad rule "20x" in expect_status (a code like 200,
// a class like 2xx, a range like 200-399, or one of them after !)`.
Result<std::vector<StatusRule>> ParseStatusRules(std::span<const std::string> texts);

// The rules in order: the first whose range holds the status decides (pass, or fail when it
// is negated); when none does, the status passes only if every rule is a negation.
bool StatusPasses(std::span<const StatusRule> rules, double status);

// Bodies are read up to this many bytes unless body_max says otherwise.
inline constexpr int64_t kDefaultBodyMax = int64_t{64} * 1024;
// The largest body_max accepted: a probe buffers that much per peer in flight.
inline constexpr int64_t kMaxBodyMax = int64_t{16} * 1024 * 1024;

// Checks that `pattern` compiles as PCRE2 compiles expect_header's and expect_body's. Error:
// `bad regex "a(": missing closing parenthesis at offset 2`.
Status CheckRegex(std::string_view pattern);

// The response rules of one check, as text; empty members are rules not set.
struct ResponseRuleTexts {
  std::vector<StatusRule> expect_status{};
  std::string header_name{};  // expect_header's name (matched case-insensitively)
  std::optional<std::string> header_match{};
  std::optional<std::string> body_match{};
  size_t body_max = static_cast<size_t>(kDefaultBodyMax);
  bool head_request = false;  // the request is HEAD: an answer has no body

  bool reads_headers() const { return header_match.has_value() || body_match.has_value(); }
};

class ResponseMatcher {
 public:
  // Compiles the header and body patterns of `texts`. Error: as CheckRegex, naming the key.
  static Result<std::unique_ptr<ResponseMatcher>> Create(const ResponseRuleTexts& texts);
  ~ResponseMatcher();
  ResponseMatcher(const ResponseMatcher&) = delete;
  ResponseMatcher& operator=(const ResponseMatcher&) = delete;

  enum class Verdict : uint8_t { kMatch, kNoMatch, kError };
  // Whether expect_header's pattern matches `value`; kError when PCRE2 could not run the
  // match (its message in *error). REQUIRES: a header rule is set.
  Verdict MatchHeader(std::string_view value, std::string* error);
  // The same for expect_body over `body`. REQUIRES: a body rule is set.
  Verdict MatchBody(std::string_view body, std::string* error);

 private:
  struct Pattern;
  ResponseMatcher();
  Verdict Match(Pattern* pattern, std::string_view subject, std::string* error);

  std::unique_ptr<Pattern> header_;
  std::unique_ptr<Pattern> body_;
};

}  // namespace upcheck

#endif  // UPCHECK_PROBE_RESPONSE_RULES_H_
