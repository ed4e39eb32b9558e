#include "check/passive.h"

#include <optional>
#include <string>

#include "util/clock.h"

namespace upcheck {

Result<double> CountPassiveFailure(SharedDict& dict, const std::string& fail_key) {
  return dict.Incr(fail_key, 1, 0.0);
}

Status CountPassiveSuccess(SharedDict& dict, const std::string& fail_key,
                           const std::string& pass_key, int64_t remember_ms) {
  // A read first: most successes find no streak, and a get is cheaper than a write.
  Result<std::optional<DictValue>> streak = dict.Get(fail_key);
  if (!streak.ok()) return streak.status();
  const double* fails = streak->has_value() ? std::get_if<double>(&**streak) : nullptr;
  if (streak->has_value() && !(fails != nullptr && *fails == 0)) {
    if (Status st = dict.Set(fail_key, DictValue(0.0)).status; !st.ok()) return st;
  }
  if (remember_ms <= 0) return Status::Ok();
  return dict.Set(pass_key, DictValue(static_cast<double>(UnixMs())), remember_ms).status;
}

bool PassedRecently(SharedDict& dict, const std::string& pass_key) {
  Result<std::optional<DictValue>> got = dict.Get(pass_key);
  return got.ok() && got->has_value();
}

}  // namespace upcheck
