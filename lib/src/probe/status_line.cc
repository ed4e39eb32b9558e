#include "probe/status_line.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <system_error>

#include "probe/pcre2_pattern.h"

namespace upcheck {

std::string Pcre2ErrorText(int code) {
  std::array<PCRE2_UCHAR, 256> buffer{};
  int n = pcre2_get_error_message(code, buffer.data(), buffer.size());
  if (n < 0) {
    return "PCRE2 error " + std::to_string(code);
  }
  return std::string(reinterpret_cast<const char*>(buffer.data()), static_cast<size_t>(n));
}

struct StatusLineParser::Impl : Pcre2Pattern {};

Result<std::unique_ptr<StatusLineParser>> StatusLineParser::Create(std::string_view pattern,
                                                                   uint32_t match_limit) {
  auto impl = std::make_unique<Impl>();
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  impl->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                             PCRE2_CASELESS, &error_code, &error_offset, nullptr);
  if (impl->code == nullptr) {
    return Result<std::unique_ptr<StatusLineParser>>::Error(
        "failed to compile status line pattern: " + Pcre2ErrorText(error_code) + " at offset " +
        std::to_string(error_offset));
  }
  // The JIT is an optimisation only: without it (or on a platform lacking it) pcre2_match()
  // interprets the pattern, with the same results.
  (void)pcre2_jit_compile(impl->code, PCRE2_JIT_COMPLETE);
  impl->match_data = pcre2_match_data_create_from_pattern(impl->code, nullptr);
  if (impl->match_data == nullptr) {
    return Result<std::unique_ptr<StatusLineParser>>::Error(
        "failed to allocate status line match data");
  }
  if (match_limit > 0) {
    impl->match_context = pcre2_match_context_create(nullptr);
    if (impl->match_context == nullptr) {
      return Result<std::unique_ptr<StatusLineParser>>::Error(
          "failed to allocate status line match context");
    }
    pcre2_set_match_limit(impl->match_context, match_limit);
  }
  return std::unique_ptr<StatusLineParser>(new StatusLineParser(std::move(impl)));
}

StatusLineParser::StatusLineParser(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StatusLineParser::~StatusLineParser() = default;

Result<StatusLineMatch> StatusLineParser::Parse(std::string_view line) {
  int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(line.data()), line.size(), 0, 0,
                       impl_->match_data, impl_->match_context);
  if (rc == PCRE2_ERROR_NOMATCH) {
    return StatusLineMatch{};
  }
  if (rc < 0) {
    return Result<StatusLineMatch>::Error("pcre2_match() failed: " + Pcre2ErrorText(rc));
  }
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(impl_->match_data);
  if (rc < 2 || ovector[2] == PCRE2_UNSET || ovector[3] <= ovector[2]) {
    // Only a pattern other than kPattern can get here (its group 1 is never empty).
    return Result<StatusLineMatch>::Error("status line pattern did not capture a status");
  }
  std::string_view digits = line.substr(ovector[2], ovector[3] - ovector[2]);
  return StatusLineMatch{.matched = true, .status = LuaToNumber(digits)};
}

double LuaToNumber(std::string_view digits) {
  double value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc::result_out_of_range) {
    // Only digits reach here, so out of range means too large: strtod's HUGE_VAL.
    return HUGE_VAL;
  }
  (void)end;
  return value;
}

std::string FormatLuaNumber(double value) {
  std::array<char, 32> buffer{};
  int n = std::snprintf(buffer.data(), buffer.size(), "%.14g", value);
  return std::string(buffer.data(), n > 0 ? static_cast<size_t>(n) : 0);
}

}  // namespace upcheck
