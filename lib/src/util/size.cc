// ParseSize and FormatSize (upcheck/size.h).
#include <fmt/format.h>

#include "upcheck/size.h"

namespace upcheck {

Result<size_t> ParseSize(std::string_view text) {
  const auto bad = [&] {
    return Result<size_t>::Error(
        fmt::format("bad size \"{}\" (bytes, or a number with k or m suffix)", text));
  };
  std::string_view digits = text;
  size_t unit = 1;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'k':
      case 'K':
        unit = 1024;
        break;
      case 'm':
      case 'M':
        unit = size_t{1024} * 1024;
        break;
      default:
        break;
    }
    if (unit != 1) digits.remove_suffix(1);
  }
  if (digits.empty() || digits.size() > 12) return bad();  // 12 digits cannot overflow
  size_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return bad();
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  return value * unit;
}

std::string FormatSize(size_t bytes) {
  constexpr size_t kM = size_t{1024} * 1024;
  if (bytes != 0 && bytes % kM == 0) return fmt::format("{}m", bytes / kM);
  if (bytes != 0 && bytes % 1024 == 0) return fmt::format("{}k", bytes / 1024);
  return fmt::format("{}", bytes);
}

}  // namespace upcheck
