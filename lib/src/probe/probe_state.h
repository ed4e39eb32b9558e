// ProbeState: what both probe engines (Probe, EpollProbes) keep per probe and decide alike,
// so that they differ only in how bytes move: the step a timeout fails, the first line and
// its verdict, and the outcome, recorded once with its duration (protocol.md §8). Each step
// gets the whole timeout, and so does each partial read of the line, as ngx_lua's receive.
// Owned by one probe; loop thread only.
#ifndef UPCHECK_PROBE_PROBE_STATE_H_
#define UPCHECK_PROBE_PROBE_STATE_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/probe_state.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#include <openssl/types.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "probe/first_line.h"
#include "probe/probe_options.h"
#include "probe/probe_result.h"
#include "probe/response_reader.h"
#include "probe/response_rules.h"
#include "probe/status_line.h"

namespace upcheck {

using ProbeCallback = std::function<void(ProbeResult result)>;

// What the probes of one owner share. Borrowed: the owner keeps it alive while any of
// its probes may still use it, i.e. until each has reported or been aborted.
struct ProbeEnv {
  uv_loop_t* loop = nullptr;
  const ProbeOptions* options = nullptr;
  uint64_t timeout_ms = 1000;  // of each step: EffectiveTimeoutMs(*options)
  SSL_CTX* ssl_ctx = nullptr;  // https only; each probe takes a reference through SSL_new
  StatusLineParser* parser = nullptr;
  ResponseMatcher* matcher = nullptr;  // only when options->rules.reads_headers()
};

// Each engine reads into a buffer of this size that it owns (one per engine or probe).
inline constexpr size_t kProbeReadBufferBytes = size_t{8} * 1024;

enum class ProbeStep : uint8_t { kConnect, kHandshake, kSend, kReceive };

// The kind of a failure in `step` with no better owner: a timeout, above all.
ProbeKind StepKind(ProbeStep step);

class ProbeState {
 public:
  // Starts the clock of the probe's duration.
  void Start() { start_ns_ = uv_hrtime(); }
  // Starts `step`; the engine (re)starts its timeout of env.timeout_ms. Leaving a step
  // records when it ended (ProbeTimings).
  void Enter(ProbeStep step) {
    if (step != step_) MarkEnd(step_);
    step_ = step;
  }

  ProbeStep step() const { return step_; }
  bool finished() const { return finished_; }
  // The first line was read whole: whatever its verdict, the connection itself is fine.
  bool answered() const { return answered_; }

  // Records the outcome (see SetOutcome) and the duration. False, and nothing changes, if
  // the probe has finished already: the engine then leaves its socket alone.
  // A receive failure after the status line is the response's, not the line's.
  bool Finish(ProbeKind kind, const std::string& name, std::string&& error,
              bool timed_out = false) {
    if (std::exchange(finished_, true)) {
      return false;
    }
    result_.duration_ms = static_cast<double>(uv_hrtime() - start_ns_) / 1e6;
    if (kind == ProbeKind::kOk) MarkEnd(step_);
    if (kind == ProbeKind::kReceive && reading_response_) kind = ProbeKind::kReceiveResponse;
    SetOutcome(&result_, kind, name, std::move(error), timed_out);
    return true;
  }
  // A probe that sends no request (tcp, tls) ends ok once connected or handshaken.
  bool Succeed(const std::string& name) { return Finish(ProbeKind::kOk, name, {}); }
  // The current step ran out of time: "timeout", of StepKind(step()).
  bool TimeOut(const std::string& name) { return Finish(StepKind(step_), name, "timeout", true); }
  // The probe ends with nothing to report (aborted). False if it had finished already.
  bool Abandon() { return !std::exchange(finished_, true); }

  // Takes the next bytes of the answer. True once they decide the outcome (Finish has run:
  // the line was judged, or passed kMaxFirstLineBytes); false while the line is incomplete,
  // and in the receive step the engine then restarts its timeout. REQUIRES: !finished().
  bool TakeAnswer(const char* data, size_t size, const ProbeEnv& env, const std::string& name);
  // The peer closed its side (EOF, or a TLS close_notify). True if that decides the outcome
  // as an end of the answer (the body of a check with expect_body, matched as it came);
  // false, and nothing changes, if it is a receive failure "closed" for the engine to record.
  bool TakeClose(const std::string& name);

  ProbeResult TakeResult() { return std::move(result_); }
  // Ready for the next probe (EpollProbes reuses its slots).
  void Reset();

 private:
  void MarkEnd(ProbeStep step);
  bool FeedResponse(const char* data, size_t size, const std::string& name);

  ProbeStep step_ = ProbeStep::kConnect;
  bool finished_ = false;
  bool answered_ = false;
  bool reading_response_ = false;  // past the status line: headers and body (ResponseReader)
  uint64_t start_ns_ = 0;          // uv_hrtime
  FirstLine line_;
  ResponseReader response_;
  ProbeResult result_;
};

}  // namespace upcheck

#endif  // UPCHECK_PROBE_PROBE_STATE_H_
