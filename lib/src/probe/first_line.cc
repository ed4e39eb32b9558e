#include "probe/first_line.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace upcheck {

FirstLine::Progress FirstLine::Feed(const char* data, size_t size, size_t* used) {
  const auto* lf = static_cast<const char*>(std::memchr(data, '\n', size));
  size_t take = lf != nullptr ? static_cast<size_t>(lf - data) : size;
  *used = lf != nullptr ? take + 1 : size;
  if (bytes_ + take > kMaxFirstLineBytes) {
    return Progress::kTooLong;
  }
  bytes_ += take;
  const char* end = data + take;
  while (data < end) {
    const auto* cr = static_cast<const char*>(std::memchr(data, '\r', end - data));
    const char* stop = cr != nullptr ? cr : end;
    line_.append(data, stop);
    data = cr != nullptr ? cr + 1 : end;
  }
  return lf != nullptr ? Progress::kComplete : Progress::kMore;
}

ProbeKind FirstLine::Judge(const ProbeOptions& options, StatusLineParser& parser,
                           ProbeResult* result, std::string* error) {
  Result<StatusLineMatch> match = parser.Parse(line_);
  if (match.ok() && match->matched) {
    result->status = match->status;
  }
  result->status_line = std::move(line_);
  Clear();
  const std::vector<StatusRule>& rules = options.rules.expect_status;
  if (!options.valid_statuses.has_value() && rules.empty()) {
    return ProbeKind::kOk;
  }
  if (!match.ok()) {
    result->parse_error = match.error();
  }
  if (!result->status.has_value()) {
    *error = result->status_line;
    return ProbeKind::kStatusLine;
  }
  const double status = *result->status;
  const std::optional<std::vector<double>>& valid = options.valid_statuses;
  if ((valid && std::find(valid->begin(), valid->end(), status) == valid->end()) ||
      !StatusPasses(rules, status)) {
    *error = FormatLuaNumber(status);
    return ProbeKind::kStatusCode;
  }
  return ProbeKind::kOk;
}

}  // namespace upcheck
