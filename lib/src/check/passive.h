// Passive checks' accounting in the shared dict (DESIGN §10): per peer, "pf:" holds the
// streak of failures that real traffic met (connect refused or timed out, a reset) and
// "ps:" the Unix ms of the last success, kept only as long as the caller asks.
// Any process may report; each call is a few dict operations, each atomic. The checker
// owns what a streak means (Checker::ReportPassive); these only count.
#ifndef UPCHECK_CHECK_PASSIVE_H_
#define UPCHECK_CHECK_PASSIVE_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CHECK)
#error "check/passive.h belongs to check/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <string>

#include "upcheck/shared_dict.h"
#include "upcheck/status.h"

namespace upcheck {

// Adds one failure to the streak in `fail_key` and returns the streak after it, as the
// dict's incr returned it: two processes never see the same number.
Result<double> CountPassiveFailure(SharedDict& dict, const std::string& fail_key);

// Ends the streak (a success resets it, as the original's ok/nok counters do). With
// remember_ms > 0 also stores now in `pass_key`, expiring after remember_ms.
Status CountPassiveSuccess(SharedDict& dict, const std::string& fail_key,
                           const std::string& pass_key, int64_t remember_ms);

// Whether `pass_key` holds a success not yet expired.
bool PassedRecently(SharedDict& dict, const std::string& pass_key);

}  // namespace upcheck

#endif  // UPCHECK_CHECK_PASSIVE_H_
