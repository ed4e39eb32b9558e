// ResponseReader: what follows the status line, for a check with expect_header or
// expect_body (DESIGN §9): the header section, then the body as its framing says
// (Content-Length, chunked, or up to the close), of which the first body_max bytes are kept
// and matched. A check without those rules never gets here: its probe ends at the status line.
//
// Owned by one probe (in its ProbeState), loop thread only. Errors are the outcome's <err>:
// "Content-Type does not match expect_header", "does not match expect_body", ...
#ifndef UPCHECK_PROBE_RESPONSE_READER_H_
#define UPCHECK_PROBE_RESPONSE_READER_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/response_reader.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "probe/response_rules.h"
#include "upcheck/probe_kind.h"

namespace upcheck {

// Longest header section accepted, and longest chunk-size line: a peer must not make a
// probe grow without bound before body_max applies.
inline constexpr size_t kMaxHeaderBytes = size_t{64} * 1024;

class ResponseReader {
 public:
  // Starts after the status line of an answer with `status` (nullopt: none was parsed).
  // REQUIRES: `rules` and `matcher` outlive the reading; rules->reads_headers().
  void Start(const ResponseRuleTexts* rules, ResponseMatcher* matcher,
             std::optional<double> status);

  // Takes the next bytes. True once they decide the outcome (kind(), error()).
  bool Feed(const char* data, size_t size);
  // The peer closed the connection: the outcome is decided. Inside the header section
  // that is a receive failure with `closed_error`; inside the body, the bytes that came
  // are matched ("a response that ends before its body matches" fails).
  void Close(std::string closed_error);

  ProbeKind kind() const { return kind_; }
  std::string& error() { return error_; }
  size_t body_bytes() const { return body_bytes_; }
  void Clear();

 private:
  enum class Phase : uint8_t { kHeaders, kBody, kChunkSize, kChunkData, kChunkEnd, kDone };

  bool TakeLine(const char*& data, const char* end, std::string_view* line);
  bool EndOfLine(std::string_view line);
  void TakeHeader(std::string_view line);
  void EndOfHeaders();
  void TakeChunkSize(std::string_view line);
  void TakeBody(const char*& data, const char* end);
  void Decide(ProbeKind kind, std::string error);
  void JudgeBody(std::string_view body);

  const ResponseRuleTexts* rules_ = nullptr;
  ResponseMatcher* matcher_ = nullptr;
  std::optional<double> status_;
  Phase phase_ = Phase::kHeaders;
  std::string line_;          // the line being read, CRs dropped, unless viewed in place
  size_t line_bytes_ = 0;     // of that line so far, CRs included
  size_t header_bytes_ = 0;   // of the header section so far
  bool header_seen_ = false;  // expect_header's header was present
  bool header_matched_ = false;
  std::string header_error_;  // PCRE2 could not run the header match
  std::optional<uint64_t> content_length_;
  bool chunked_ = false;
  uint64_t remaining_ = 0;  // of the body (Content-Length) or of the chunk
  bool to_close_ = false;   // the body ends when the peer closes
  std::string body_;        // its first body_max bytes, when they span reads
  size_t body_bytes_ = 0;   // of the body kept and matched
  ProbeKind kind_ = ProbeKind::kOk;
  std::string error_;
};

}  // namespace upcheck

#endif  // UPCHECK_PROBE_RESPONSE_READER_H_
