#include "probe_report.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include <fmt/format.h>

#include "probe/status_line.h"

namespace upcheck::probe_tool {
namespace {

bool KindIn(ProbeKind kind, std::initializer_list<ProbeKind> kinds) {
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

// A step the probe timed at `at` (-1: never ended there); `fails_here` says whether the
// outcome is this step's failure.
StepLine TimedStep(std::string name, double at, bool fails_here, const ProbeRun& run) {
  StepLine step;
  step.name = std::move(name);
  if (at >= 0) {
    step.state = Reached::kPass;
    step.ms = run.probe_start_ms + at;
  } else if (fails_here) {
    step.state = Reached::kFail;
    step.ms = run.probe_start_ms + run.result.duration_ms;
  }
  return step;
}

std::vector<StepLine> StepsOf(const ProbeRun& run, const ProbeOptions& options) {
  const ProbeResult& r = run.result;
  const ProbeTimings& t = r.timings;
  std::vector<StepLine> steps;
  steps.push_back(StepLine{"resolve", Reached::kPass, run.resolved_ms,
                           run.looked_up ? run.address : run.address + " (no lookup)"});
  steps.push_back(TimedStep("connect", t.connected_ms,
                            KindIn(r.kind, {ProbeKind::kConnect, ProbeKind::kSocket}), run));
  if (UsesTls(options.scheme)) {
    steps.push_back(TimedStep("tls", t.handshaken_ms, r.kind == ProbeKind::kTls, run));
  }
  if (!SendsRequest(options.scheme)) return steps;
  steps.push_back(TimedStep("send", t.sent_ms, r.kind == ProbeKind::kSend, run));
  steps.push_back(TimedStep("first byte", t.first_byte_ms, r.kind == ProbeKind::kReceive, run));
  if (options.rules.body_match) {
    const bool read = KindIn(r.kind, {ProbeKind::kOk, ProbeKind::kBody});
    StepLine body =
        TimedStep("body", read ? r.duration_ms : -1, r.kind == ProbeKind::kReceiveResponse, run);
    if (read) body.detail = fmt::format("{} bytes", r.body_bytes);
    steps.push_back(std::move(body));
  }
  return steps;
}

// Adds rules in the order the probe judges them: once one fails, the rest are not reached.
class RuleList {
 public:
  explicit RuleList(bool reached) : blocked_(!reached) {}
  void Add(std::string name, bool failed, std::string detail) {
    Reached state = blocked_ ? Reached::kNotReached : failed ? Reached::kFail : Reached::kPass;
    blocked_ = blocked_ || failed;
    rules_.push_back(
        RuleLine{std::move(name), state, state == Reached::kNotReached ? "" : std::move(detail)});
  }
  void Block() { blocked_ = true; }
  std::vector<RuleLine> Take() { return std::move(rules_); }

 private:
  bool blocked_;
  std::vector<RuleLine> rules_;
};

std::vector<RuleLine> RulesOf(const ProbeResult& r, const ProbeOptions& options) {
  if (!SendsRequest(options.scheme)) return {};
  const bool line_read = !KindIn(r.kind, {ProbeKind::kConnect, ProbeKind::kTls, ProbeKind::kSend,
                                          ProbeKind::kReceive, ProbeKind::kSocket});
  RuleList rules(line_read);
  rules.Add("status line", r.kind == ProbeKind::kStatusLine, EscapedForLog(r.status_line));
  const std::string status = r.status ? FormatLuaNumber(*r.status) : "";
  if (options.valid_statuses) {
    const std::vector<double>& valid = *options.valid_statuses;
    const bool in = r.status && std::find(valid.begin(), valid.end(), *r.status) != valid.end();
    rules.Add("valid_statuses", !in, "status " + status);
  }
  if (!options.rules.expect_status.empty()) {
    const bool passes = r.status && StatusPasses(options.rules.expect_status, *r.status);
    rules.Add("expect_status", !passes, "status " + status);
  }
  // The answer was cut off after its status line: the later rules were never judged.
  if (r.kind == ProbeKind::kReceiveResponse) rules.Block();
  if (options.rules.header_match) {
    const bool failed = r.kind == ProbeKind::kHeader;
    rules.Add("expect_header", failed, failed ? r.error : options.rules.header_name + " matches");
  }
  if (options.rules.body_match) {
    const bool failed = r.kind == ProbeKind::kBody;
    rules.Add("expect_body", failed, failed ? r.error : "matches");
  }
  return rules.Take();
}

const char* StateName(Reached state) {
  switch (state) {
    case Reached::kPass:
      return "pass";
    case Reached::kFail:
      return "fail";
    case Reached::kNotReached:
      break;
  }
  return "not reached";
}

// Keeps a line one line. Unlike cli::EscapeForLine it leaves backslashes alone: the engine's
// texts (a status line through EscapedForLog) are escaped already.
std::string ControlsEscaped(const std::string& text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    out += byte < 0x20 || byte == 0x7f ? fmt::format("\\x{:02x}", byte) : std::string(1, c);
  }
  return out;
}

std::string OutcomeText(const ProbeResult& r) {
  if (r.ok()) return "ok";
  return r.counted() ? r.message : r.message + " (not counted)";
}

}  // namespace

ProbeReport MakeReport(const ProbeRun& run, const std::string& type, const ProbeOptions& options) {
  return ProbeReport{type, run.peer, StepsOf(run, options), RulesOf(run.result, options),
                     run.result};
}

std::string RenderText(const ProbeReport& report) {
  std::string out = fmt::format("{:<16}{} ({})\n", "peer", report.peer, report.type);
  for (const StepLine& s : report.steps) {
    std::string what = s.state == Reached::kPass   ? fmt::format("{:.3f} ms", s.ms)
                       : s.state == Reached::kFail ? fmt::format("failed at {:.3f} ms", s.ms)
                                                   : "not reached";
    if (!s.detail.empty()) what += "  " + s.detail;
    out += fmt::format("{:<16}{}\n", s.name, ControlsEscaped(what));
  }
  for (const RuleLine& r : report.rules) {
    std::string what = StateName(r.state);
    if (!r.detail.empty()) what += "  " + r.detail;
    out += fmt::format("{:<16}{}\n", r.name, ControlsEscaped(what));
  }
  out += fmt::format("{:<16}{}\n", "outcome", ControlsEscaped(OutcomeText(report.result)));
  return out;
}

nlohmann::ordered_json RenderJson(const ProbeReport& report) {
  const ProbeResult& r = report.result;
  nlohmann::ordered_json steps = nlohmann::ordered_json::array();
  for (const StepLine& s : report.steps) {
    steps.push_back({{"step", s.name},
                     {"result", StateName(s.state)},
                     {"ms", s.ms >= 0 ? nlohmann::ordered_json(s.ms) : nullptr},
                     {"detail", s.detail}});
  }
  nlohmann::ordered_json rules = nlohmann::ordered_json::array();
  for (const RuleLine& rule : report.rules) {
    rules.push_back(
        {{"rule", rule.name}, {"result", StateName(rule.state)}, {"detail", rule.detail}});
  }
  nlohmann::ordered_json out;
  out["peer"] = report.peer;
  out["type"] = report.type;
  out["ok"] = r.ok();
  out["counted"] = r.counted();
  out["result"] = ProbeResultName(r);
  out["message"] = r.ok() ? "ok" : r.message;
  out["duration_ms"] = r.duration_ms;
  out["status_line"] = r.status_line;
  if (r.status && *r.status == static_cast<double>(static_cast<int64_t>(*r.status))) {
    out["status"] = static_cast<int64_t>(*r.status);  // 200, not 200.0
  } else {
    out["status"] = r.status ? nlohmann::ordered_json(*r.status) : nullptr;
  }
  out["body_bytes"] = r.body_bytes;
  out["steps"] = std::move(steps);
  out["rules"] = std::move(rules);
  return out;
}

}  // namespace upcheck::probe_tool
