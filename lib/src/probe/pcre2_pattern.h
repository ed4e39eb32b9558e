// Pcre2Pattern: a compiled PCRE2 pattern with the match data and match context it is matched
// with, freed together. Owned by one matcher (StatusLineParser, ResponseMatcher); a match
// through it allocates nothing. Loop thread only: the match data is reused.
#ifndef UPCHECK_PROBE_PCRE2_PATTERN_H_
#define UPCHECK_PROBE_PCRE2_PATTERN_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/pcre2_pattern.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

namespace upcheck {

struct Pcre2Pattern {
  Pcre2Pattern() = default;
  ~Pcre2Pattern() {
    pcre2_match_context_free(match_context);
    pcre2_match_data_free(match_data);
    pcre2_code_free(code);
  }
  Pcre2Pattern(const Pcre2Pattern&) = delete;
  Pcre2Pattern& operator=(const Pcre2Pattern&) = delete;

  pcre2_code* code = nullptr;
  pcre2_match_data* match_data = nullptr;
  pcre2_match_context* match_context = nullptr;  // nullptr: PCRE2's default limits
};

}  // namespace upcheck

#endif  // UPCHECK_PROBE_PCRE2_PATTERN_H_
