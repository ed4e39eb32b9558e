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
