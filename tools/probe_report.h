// What upcheck-probe prints about one probe: each step with its time since the run began,
// each response rule with pass, fail or "not reached", and the outcome with the engine's
// message; as text lines or as one JSON object. Pure functions of the run.
#ifndef UPCHECK_TOOLS_PROBE_REPORT_H_
#define UPCHECK_TOOLS_PROBE_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "probe/probe_options.h"
#include "probe_run.h"

namespace upcheck::probe_tool {

enum class Reached : uint8_t { kPass, kFail, kNotReached };

struct StepLine {
  std::string name;  // "resolve", "connect", "tls", "send", "first byte", "body"
  Reached state = Reached::kNotReached;
  double ms = -1;      // since the run began, when it ended (passed or failed)
  std::string detail;  // resolve: the address; body: "N bytes"
};

struct RuleLine {
  std::string name;  // "status line", "valid_statuses", "expect_status", "expect_header",
                     // "expect_body"
  Reached state = Reached::kNotReached;
  std::string detail;  // the line, the status, or why the rule failed
};

struct ProbeReport {
  std::string type;  // the check's type
  std::string peer;
  std::vector<StepLine> steps;
  std::vector<RuleLine> rules;
  ProbeResult result;
};

// The steps and rules the probe of `run` went through, for a check with `options`.
ProbeReport MakeReport(const ProbeRun& run, const std::string& type, const ProbeOptions& options);

// One line per step, one per rule, then "outcome  ok" or "outcome  <message>".
std::string RenderText(const ProbeReport& report);

// {"peer","type","ok","counted","result","message","duration_ms","status_line","status",
//  "steps":[{"step","result","ms","detail"}],"rules":[{"rule","result","detail"}]}
nlohmann::ordered_json RenderJson(const ProbeReport& report);

}  // namespace upcheck::probe_tool

#endif  // UPCHECK_TOOLS_PROBE_REPORT_H_
