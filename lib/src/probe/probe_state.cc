#include "probe/probe_state.h"

namespace upcheck {

ProbeKind StepKind(ProbeStep step) {
  switch (step) {
    case ProbeStep::kConnect:
      return ProbeKind::kConnect;
    case ProbeStep::kHandshake:
      return ProbeKind::kTls;
    case ProbeStep::kSend:
      return ProbeKind::kSend;
    case ProbeStep::kReceive:
      break;
  }
  return ProbeKind::kReceive;
}

bool ProbeState::Finish(ProbeKind kind, const std::string& name, std::string error,
                        bool timed_out) {
  if (finished_) {
    return false;
  }
  finished_ = true;
  result_.duration_ms = static_cast<double>(uv_hrtime() - start_ns_) / 1e6;
  SetOutcome(&result_, kind, name, std::move(error), timed_out);
  return true;
}

bool ProbeState::TakeAnswer(const char* data, size_t size, const ProbeEnv& env,
                            const std::string& name) {
  switch (line_.Feed(data, size)) {
    case FirstLine::Progress::kMore:
      return false;
    case FirstLine::Progress::kTooLong:
      Finish(ProbeKind::kReceive, name, "status line too long");
      return true;
    case FirstLine::Progress::kComplete:
      break;
  }
  answered_ = true;
  std::string error;
  ProbeKind kind = line_.Judge(*env.options, *env.parser, &result_, &error);
  Finish(kind, name, std::move(error));
  return true;
}

void ProbeState::Reset() {
  step_ = ProbeStep::kConnect;
  finished_ = false;
  answered_ = false;
  line_.Clear();
  result_ = ProbeResult{};
}

}  // namespace upcheck
