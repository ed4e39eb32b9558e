#include "probe/response_rules.h"

#include <charconv>
#include <utility>

#include "probe/pcre2_pattern.h"
#include "probe/status_line.h"

namespace upcheck {

namespace {

// A match that backtracks more than this is an error, not a worker stuck in one probe.
constexpr uint32_t kMatchLimit = 1'000'000;

// Bytes, not UTF-8: a body may hold anything, and a UTF check would fail on it.
pcre2_code* Compile(std::string_view pattern, std::string* error) {
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* compiled = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                       0, &code, &offset, nullptr);
  if (compiled == nullptr) {
    *error = "bad regex \"" + std::string(pattern) + "\": " + Pcre2ErrorText(code) + " at offset " +
             std::to_string(offset);
  }
  return compiled;
}

bool ParseCode(std::string_view text, double* value) {
  if (text.size() != 3) return false;
  int code = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
  if (ec != std::errc() || end != text.data() + text.size() || code < 100) return false;
  *value = code;
  return true;
}

std::optional<StatusRule> ParseStatusRule(std::string_view text) {
  StatusRule rule;
  if (text.starts_with('!')) {
    rule.negated = true;
    text.remove_prefix(1);
  }
  if (text.size() == 3 && text[0] >= '1' && text[0] <= '9' &&
      (text.substr(1) == "xx" || text.substr(1) == "XX")) {
    rule.low = (text[0] - '0') * 100;
    rule.high = rule.low + 99;
    return rule;
  }
  if (size_t dash = text.find('-'); dash != std::string_view::npos) {
    if (!ParseCode(text.substr(0, dash), &rule.low) ||
        !ParseCode(text.substr(dash + 1), &rule.high) || rule.low > rule.high) {
      return std::nullopt;
    }
    return rule;
  }
  if (!ParseCode(text, &rule.low)) return std::nullopt;
  rule.high = rule.low;
  return rule;
}

}  // namespace

Result<std::vector<StatusRule>> ParseStatusRules(std::span<const std::string> texts) {
  std::vector<StatusRule> rules;
  for (const std::string& text : texts) {
    std::optional<StatusRule> rule = ParseStatusRule(text);
    if (!rule) {
      return Result<std::vector<StatusRule>>::Error(
          "bad rule \"" + text +
          "\" in expect_status (a code like 200, a class like 2xx, a range like 200-399, or "
          "one of them after !)");
    }
    rules.push_back(*rule);
  }
  return rules;
}

bool StatusPasses(std::span<const StatusRule> rules, double status) {
  bool any_positive = false;
  for (const StatusRule& rule : rules) {
    if (status >= rule.low && status <= rule.high) return !rule.negated;
    any_positive = any_positive || !rule.negated;
  }
  return !any_positive;
}

Status CheckRegex(std::string_view pattern) {
  std::string error;
  pcre2_code* code = Compile(pattern, &error);
  if (code == nullptr) return Status::Error(std::move(error));
  pcre2_code_free(code);
  return Status::Ok();
}

struct ResponseMatcher::Pattern : Pcre2Pattern {
  bool jit = false;  // compiled by the JIT: matched through pcre2_jit_match, without the
                     // generic entry's checks (about a third of a short match's cost)
};

ResponseMatcher::ResponseMatcher() = default;
ResponseMatcher::~ResponseMatcher() = default;

Result<std::unique_ptr<ResponseMatcher>> ResponseMatcher::Create(const ResponseRuleTexts& texts) {
  using R = Result<std::unique_ptr<ResponseMatcher>>;
  std::unique_ptr<ResponseMatcher> matcher(new ResponseMatcher());
  auto make = [](std::string_view key, const std::string& text,
                 std::unique_ptr<Pattern>* out) -> Status {
    auto pattern = std::make_unique<Pattern>();
    std::string error;
    pattern->code = Compile(text, &error);
    if (pattern->code == nullptr) return Status::Error(std::string(key) + ": " + error);
    // The JIT only speeds matching up: without it pcre2_match() interprets, alike.
    pattern->jit = pcre2_jit_compile(pattern->code, PCRE2_JIT_COMPLETE) == 0;
    pattern->match_data = pcre2_match_data_create(1, nullptr);
    pattern->match_context = pcre2_match_context_create(nullptr);
    if (pattern->match_data == nullptr || pattern->match_context == nullptr) {
      return Status::Error(std::string(key) + ": out of memory");
    }
    pcre2_set_match_limit(pattern->match_context, kMatchLimit);
    *out = std::move(pattern);
    return Status::Ok();
  };
  if (texts.header_match) {
    if (Status st = make("expect_header", *texts.header_match, &matcher->header_); !st) return st;
  }
  if (texts.body_match) {
    if (Status st = make("expect_body", *texts.body_match, &matcher->body_); !st) return st;
  }
  return R(std::move(matcher));
}

ResponseMatcher::Verdict ResponseMatcher::Match(Pattern* pattern, std::string_view subject,
                                                std::string* error) {
  const auto* bytes = reinterpret_cast<PCRE2_SPTR>(subject.data());
  int rc = pattern->jit ? pcre2_jit_match(pattern->code, bytes, subject.size(), 0, 0,
                                          pattern->match_data, pattern->match_context)
                        : pcre2_match(pattern->code, bytes, subject.size(), 0, 0,
                                      pattern->match_data, pattern->match_context);
  if (rc >= 0) return Verdict::kMatch;
  if (rc == PCRE2_ERROR_NOMATCH) return Verdict::kNoMatch;
  *error = Pcre2ErrorText(rc);
  return Verdict::kError;
}

ResponseMatcher::Verdict ResponseMatcher::MatchHeader(std::string_view value, std::string* error) {
  return Match(header_.get(), value, error);
}

ResponseMatcher::Verdict ResponseMatcher::MatchBody(std::string_view body, std::string* error) {
  return Match(body_.get(), body, error);
}

}  // namespace upcheck
