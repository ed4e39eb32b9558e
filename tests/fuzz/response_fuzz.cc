// Fuzz target: the response rules and the reading of an answer past its status line
// (ParseStatusRules, StatusPasses, CheckRegex, ResponseMatcher, ProbeState + ResponseReader).
//
// Input: spec lines, a blank line, then the response bytes. Spec lines: "s:<rule>" an
// expect_status entry, "v:<n>" a valid status, "h:<name>" / "H:<regex>" expect_header,
// "b:<regex>" expect_body, "m:<n>" body_max, "r:" a HEAD request, "c:<bytes>" the piece
// sizes (each byte one piece). Invariants: bad rules and regexes are errors, and CheckRegex
// agrees with ResponseMatcher::Create; the outcome is decided exactly once; body_bytes <=
// body_max; the answer fed whole, in the given pieces and byte by byte ends alike.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "probe/probe_state.h"
#include "probe/response_rules.h"

namespace upcheck {
namespace {

const std::string kName = "127.0.0.1:80";

struct Spec {
  std::vector<std::string> status_texts;
  std::vector<double> valid;
  bool has_valid = false;
  ResponseRuleTexts rules;
  std::vector<size_t> pieces;
  std::string_view response;
};

void Check(bool ok) {
  if (!ok) std::abort();
}

size_t SmallNumber(std::string_view text, size_t max) {
  size_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') break;
    n = std::min(max, n * 10 + static_cast<size_t>(c - '0'));
  }
  return n;
}

Spec ParseSpec(std::string_view input) {
  Spec spec;
  while (!input.empty()) {
    size_t lf = input.find('\n');
    std::string_view line = input.substr(0, lf);
    input = lf == std::string_view::npos ? std::string_view() : input.substr(lf + 1);
    if (line.empty()) break;  // the response follows
    std::string_view value = line.size() >= 2 ? line.substr(2) : std::string_view();
    switch (line.size() >= 2 && line[1] == ':' ? line[0] : '\0') {
      case 's':
        spec.status_texts.emplace_back(value);
        break;
      case 'v':
        spec.has_valid = true;
        spec.valid.push_back(static_cast<double>(SmallNumber(value, 999)));
        break;
      case 'h':
        spec.rules.header_name = std::string(value);
        break;
      case 'H':
        spec.rules.header_match = std::string(value);
        break;
      case 'b':
        spec.rules.body_match = std::string(value);
        break;
      case 'm':
        spec.rules.body_max = std::max<size_t>(1, SmallNumber(value, 1 << 20));
        break;
      case 'r':
        spec.rules.head_request = true;
        break;
      case 'c':
        for (char c : value) spec.pieces.push_back(std::max<size_t>(1, static_cast<uint8_t>(c)));
        break;
      default:
        break;
    }
  }
  spec.response = input;
  return spec;
}

// The rules as Checker::Spawn would take them; false when they are refused (an error).
bool TakeRules(Spec* spec) {
  Result<std::vector<StatusRule>> rules = ParseStatusRules(spec->status_texts);
  if (!rules.ok()) {
    Check(rules.error().starts_with("bad rule \""));
    return false;
  }
  bool all_negated = true;
  for (const StatusRule& rule : *rules) {
    Check(rule.low >= 100 && rule.low <= rule.high && rule.high <= 999);
    all_negated = all_negated && rule.negated;
  }
  // The first rule holding a status decides; a status no rule holds passes only when
  // every rule is a negation.
  if (!rules->empty()) Check(StatusPasses(*rules, rules->front().low) == !rules->front().negated);
  Check(StatusPasses(*rules, 42) == all_negated);
  spec->rules.expect_status = std::move(*rules);
  return true;
}

std::unique_ptr<ResponseMatcher> MakeMatcher(const ResponseRuleTexts& rules) {
  bool valid = true;
  for (const std::optional<std::string>& pattern : {rules.header_match, rules.body_match}) {
    if (!pattern) continue;
    Status st = CheckRegex(*pattern);
    if (!st) Check(st.message().starts_with("bad regex \""));
    valid = valid && st.ok();
  }
  Result<std::unique_ptr<ResponseMatcher>> matcher = ResponseMatcher::Create(rules);
  Check(matcher.ok() == valid);
  if (!matcher.ok()) {
    Check(matcher.error().starts_with("expect_header: bad regex \"") ||
          matcher.error().starts_with("expect_body: bad regex \""));
    return nullptr;
  }
  return std::move(*matcher);
}

struct Outcome {
  ProbeKind kind = ProbeKind::kOk;
  std::string message;
  std::string status_line;
  size_t body_bytes = 0;
};

// Feeds `response` in pieces of the sizes in `pieces` (cycled), then the peer's close,
// as an engine does; checks that the outcome is decided exactly once.
Outcome Run(const Spec& spec, const ProbeEnv& env, const std::vector<size_t>& pieces) {
  ProbeState state;
  state.Start();
  state.Enter(ProbeStep::kReceive);
  std::string_view rest = spec.response;
  size_t next = 0;
  bool decided = false;
  while (!rest.empty()) {
    size_t n = std::min(rest.size(), pieces[next++ % pieces.size()]);
    // A copy, so that ASan sees a read past the piece.
    std::vector<char> piece(rest.begin(), rest.begin() + n);
    rest.remove_prefix(n);
    decided = state.TakeAnswer(piece.data(), piece.size(), env, kName);
    Check(decided == state.finished());
    if (decided) break;
  }
  if (!decided) {
    // A close that does not end the answer is the engine's receive failure.
    if (!state.TakeClose(kName)) {
      Check(!state.finished());
      Check(state.Finish(ProbeKind::kReceive, kName, SocketErrorText(UV_EOF)));
    }
  }
  Check(state.finished());
  Check(!state.TakeClose(kName));
  Check(!state.Finish(ProbeKind::kSend, kName, "again"));
  Check(!state.Abandon());
  ProbeResult result = state.TakeResult();
  Check(result.body_bytes <= spec.rules.body_max);
  if (env.matcher == nullptr || !spec.rules.body_match) Check(result.body_bytes == 0);
  Check(result.ok() == result.message.empty());
  return {result.kind, std::move(result.message), std::move(result.status_line), result.body_bytes};
}

void Same(const Outcome& a, const Outcome& b) {
  Check(a.kind == b.kind);
  Check(a.message == b.message);
  Check(a.status_line == b.status_line);
  Check(a.body_bytes == b.body_bytes);
}

StatusLineParser& Parser() {
  static std::unique_ptr<StatusLineParser> parser = [] {
    auto p = StatusLineParser::Create();
    if (!p.ok()) std::abort();
    return std::move(*p);
  }();
  return *parser;
}

}  // namespace
}  // namespace upcheck

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace upcheck;
  Spec spec = ParseSpec(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!TakeRules(&spec)) return 0;
  std::unique_ptr<ResponseMatcher> matcher;
  if (spec.rules.reads_headers()) {
    matcher = MakeMatcher(spec.rules);
    if (matcher == nullptr) return 0;
  }
  ProbeOptions options;
  if (spec.has_valid) options.valid_statuses = spec.valid;
  options.rules = spec.rules;
  ProbeEnv env;
  env.options = &options;
  env.parser = &Parser();
  env.matcher = matcher.get();

  const Outcome whole = Run(spec, env, {spec.response.size() + 1});
  if (!spec.pieces.empty()) Same(whole, Run(spec, env, spec.pieces));
  if (spec.response.size() <= 4096) Same(whole, Run(spec, env, {1}));
  return 0;
}
