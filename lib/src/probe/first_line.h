// The first line of a probe's answer: gathering it from the bytes read, and judging it.
//
// Shared by both probe engines (Probe on libuv handles, EpollProbes on a raw epoll set),
// so that they read and judge a line the same way: every CR dropped, the line ends at the
// first LF, a line longer than kMaxFirstLineBytes fails the probe, and the verdict follows
// the original (protocol.md §8).
#ifndef UPCHECK_PROBE_FIRST_LINE_H_
#define UPCHECK_PROBE_FIRST_LINE_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/first_line.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#include <cstddef>
#include <string>

#include "probe/probe_options.h"
#include "probe/probe_result.h"
#include "probe/status_line.h"

namespace upcheck {

// Longest first line accepted, in bytes read before the LF (CRs included). A longer line
// fails the probe as a receive error "status line too long": the original reads without a
// bound, but no health endpoint needs more and a peer must not make us grow without limit.
inline constexpr size_t kMaxFirstLineBytes = size_t{64} * 1024;

class FirstLine {
 public:
  enum class Progress : uint8_t { kMore, kComplete, kTooLong };

  // Takes the next bytes read from the peer. kComplete once an LF has been seen (the
  // bytes after it are left, *used counts the bytes taken with the LF), kTooLong once the
  // line passes kMaxFirstLineBytes.
  Progress Feed(const char* data, size_t size, size_t* used);

  // Judges the complete line into `result` (status_line, status, parse_error): the
  // original's valid_statuses, then expect_status. Returns kOk, or the failing kind with
  // its <err> text in `error`. Leaves this object empty.
  ProbeKind Judge(const ProbeOptions& options, StatusLineParser& parser, ProbeResult* result,
                  std::string* error);

  void Clear() {
    line_.clear();
    bytes_ = 0;
  }

 private:
  std::string line_;  // so far, CRs dropped
  size_t bytes_ = 0;  // bytes taken so far, CRs included
};

}  // namespace upcheck

#endif  // UPCHECK_PROBE_FIRST_LINE_H_
