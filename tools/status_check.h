// upcheck-status --check: one verdict line over the segment's converged view
// (status_view.h), for Nagios-style monitors and systemd health checks.
//
// An upstream with at least one peer passes when one of its peers (primary or backup) is
// up; an upstream without peers is not judged. Exit status: 0 all pass ("OK: ..."), 1 some
// upstream has no peer up ("CRITICAL: ..."), 2 the view cannot be built ("UNKNOWN: ...").
// Pure over its inputs except CheckSegment, which only reads the segment.
#ifndef UPCHECK_TOOLS_STATUS_CHECK_H_
#define UPCHECK_TOOLS_STATUS_CHECK_H_

#include <string>

#include "upcheck/upstreams.h"

namespace upcheck::status_tool {

inline constexpr int kCheckOk = 0;
inline constexpr int kCheckCritical = 1;
inline constexpr int kCheckUnknown = 2;

struct CheckVerdict {
  int exit_code = kCheckUnknown;
  std::string line;  // without newline
};

// The verdict over a built view.
CheckVerdict JudgeUpstreams(const Upstreams& view);

// "UNKNOWN: <why>", exit kCheckUnknown.
CheckVerdict Unknown(const std::string& why);

// Opens segment `name`, builds its view and judges it; any error is Unknown.
CheckVerdict CheckSegment(const std::string& name);

}  // namespace upcheck::status_tool

#endif  // UPCHECK_TOOLS_STATUS_CHECK_H_
