// Fuzz target: the HTTP status-line parser (the original's `^HTTP/\d+\.\d+\s+(\d+)`,
// caseless). Invariants: a match starts with "HTTP/" in any case and has a status >= 0;
// PCRE2 errors are values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "probe/status_line.h"

namespace {

bool StartsWithHttpSlash(std::string_view line) {
  constexpr std::string_view kHttp = "http/";
  if (line.size() < kHttp.size()) return false;
  for (size_t i = 0; i < kHttp.size(); ++i) {
    char c = line[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kHttp[i]) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::unique_ptr<upcheck::StatusLineParser> parser = [] {
    auto p = upcheck::StatusLineParser::Create();
    if (!p.ok()) std::abort();
    return std::move(*p);
  }();
  std::string_view line(reinterpret_cast<const char*>(data), size);
  upcheck::Result<upcheck::StatusLineMatch> m = parser->Parse(line);
  if (!m.ok()) return 0;
  if (m->matched) {
    if (!StartsWithHttpSlash(line)) std::abort();
    if (!(m->status >= 0)) std::abort();
    (void)upcheck::FormatLuaNumber(m->status);
  }
  return 0;
}
