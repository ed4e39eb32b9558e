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

void ProbeState::MarkEnd(ProbeStep step) {
  const double ms = static_cast<double>(uv_hrtime() - start_ns_) / 1e6;
  ProbeTimings& t = result_.timings;
  switch (step) {
    case ProbeStep::kConnect:
      if (t.connected_ms < 0) t.connected_ms = ms;
      break;
    case ProbeStep::kHandshake:
      if (t.handshaken_ms < 0) t.handshaken_ms = ms;
      break;
    case ProbeStep::kSend:
      if (t.sent_ms < 0) t.sent_ms = ms;
      break;
    case ProbeStep::kReceive:
      break;
  }
}

bool ProbeState::TakeAnswer(const char* data, size_t size, const ProbeEnv& env,
                            const std::string& name) {
  if (result_.timings.first_byte_ms < 0) {
    result_.timings.first_byte_ms = static_cast<double>(uv_hrtime() - start_ns_) / 1e6;
  }
  if (reading_response_) {
    return FeedResponse(data, size, name);
  }
  size_t used = 0;
  switch (line_.Feed(data, size, &used)) {
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
  if (kind != ProbeKind::kOk || env.matcher == nullptr) {
    Finish(kind, name, std::move(error));
    return true;
  }
  reading_response_ = true;
  response_.Start(&env.options->rules, env.matcher, result_.status);
  return FeedResponse(data + used, size - used, name);
}

bool ProbeState::FeedResponse(const char* data, size_t size, const std::string& name) {
  if (!response_.Feed(data, size)) return false;
  result_.body_bytes = response_.body_bytes();
  Finish(response_.kind(), name, std::move(response_.error()));
  return true;
}

bool ProbeState::TakeClose(const std::string& name) {
  if (!reading_response_ || finished_) return false;
  response_.Close(SocketErrorText(UV_EOF));
  result_.body_bytes = response_.body_bytes();
  Finish(response_.kind(), name, std::move(response_.error()));
  return true;
}

void ProbeState::Reset() {
  step_ = ProbeStep::kConnect;
  finished_ = false;
  answered_ = false;
  reading_response_ = false;
  line_.Clear();
  response_.Clear();
  result_ = ProbeResult{};
}

}  // namespace upcheck
