#include "probe/response_reader.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

namespace upcheck {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

// Whether the last coding of a Transfer-Encoding value is chunked (RFC 9112 §6.3).
bool LastCodingIsChunked(std::string_view value) {
  size_t comma = value.rfind(',');
  std::string_view last = Trim(comma == std::string_view::npos ? value : value.substr(comma + 1));
  return EqualsIgnoringCase(last, "chunked");
}

}  // namespace

void ResponseReader::Start(const ResponseRuleTexts* rules, ResponseMatcher* matcher,
                           std::optional<double> status) {
  Clear();
  rules_ = rules;
  matcher_ = matcher;
  status_ = status;
}

void ResponseReader::Clear() {
  phase_ = Phase::kHeaders;
  line_.clear();
  line_bytes_ = 0;
  header_bytes_ = 0;
  header_seen_ = false;
  header_matched_ = false;
  header_error_.clear();
  content_length_.reset();
  chunked_ = false;
  remaining_ = 0;
  to_close_ = false;
  body_.clear();
  body_bytes_ = 0;
  kind_ = ProbeKind::kOk;
  error_.clear();
}

bool ResponseReader::Feed(const char* data, size_t size) {
  const char* end = data + size;
  while (phase_ != Phase::kDone && data < end) {
    switch (phase_) {
      case Phase::kHeaders:
      case Phase::kChunkSize:
      case Phase::kChunkEnd: {
        std::string_view line;
        if (!TakeLine(data, end, &line)) break;
        if (!EndOfLine(line)) return true;
        break;
      }
      case Phase::kBody:
      case Phase::kChunkData:
        TakeBody(data, end);
        break;
      case Phase::kDone:
        break;
    }
  }
  return phase_ == Phase::kDone;
}

// Takes bytes up to the next LF. True once the line is complete, in *line (CRs dropped):
// a line read whole with at most a CR before its LF (the usual case) is viewed where it
// lies, any other is gathered in line_. False while it is incomplete, or once it passes
// kMaxHeaderBytes (the outcome is then decided).
bool ResponseReader::TakeLine(const char*& data, const char* end, std::string_view* line) {
  const auto* lf = static_cast<const char*>(std::memchr(data, '\n', end - data));
  const char* begin = data;
  const char* stop = lf != nullptr ? lf : end;
  const size_t taken = static_cast<size_t>(stop - begin);
  const bool pending = line_bytes_ > 0;
  line_bytes_ += taken;
  if (phase_ == Phase::kHeaders) {
    header_bytes_ += taken;
    if (header_bytes_ > kMaxHeaderBytes) {
      Decide(ProbeKind::kHeader, "section too long");
      return false;
    }
  } else if (line_bytes_ > kMaxHeaderBytes) {
    Decide(ProbeKind::kBody, "has a bad chunked encoding");
    return false;
  }
  data = lf != nullptr ? lf + 1 : end;
  if (lf != nullptr && !pending) {
    std::string_view whole(begin, taken);
    if (whole.ends_with('\r')) whole.remove_suffix(1);
    if (whole.find('\r') == std::string_view::npos) {
      line_bytes_ = 0;
      *line = whole;
      return true;
    }
  }
  while (begin < stop) {
    const auto* cr = static_cast<const char*>(std::memchr(begin, '\r', stop - begin));
    line_.append(begin, cr != nullptr ? cr : stop);
    begin = cr != nullptr ? cr + 1 : stop;
  }
  if (lf == nullptr) return false;
  line_bytes_ = 0;
  *line = line_;
  return true;
}

// A line of the header section or of the chunked framing is complete. False once the
// outcome is decided.
bool ResponseReader::EndOfLine(std::string_view line) {
  switch (phase_) {
    case Phase::kHeaders:
      if (line.empty()) {
        EndOfHeaders();
      } else {
        TakeHeader(line);
      }
      break;
    case Phase::kChunkSize:
      TakeChunkSize(line);
      break;
    case Phase::kChunkEnd:
      if (!line.empty()) {
        Decide(ProbeKind::kBody, "has a bad chunked encoding");
      } else {
        phase_ = Phase::kChunkSize;
      }
      break;
    default:
      break;
  }
  line_.clear();  // keeps its capacity for the next line
  return phase_ != Phase::kDone;
}

void ResponseReader::TakeHeader(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return;  // not a header: ignored, as lenient clients do
  std::string_view name = Trim(line.substr(0, colon));
  std::string_view value = Trim(line.substr(colon + 1));
  if (rules_->header_match && !header_matched_ && EqualsIgnoringCase(name, rules_->header_name)) {
    header_seen_ = true;
    std::string error;
    switch (matcher_->MatchHeader(value, &error)) {
      case ResponseMatcher::Verdict::kMatch:
        header_matched_ = true;
        break;
      case ResponseMatcher::Verdict::kNoMatch:
        break;
      case ResponseMatcher::Verdict::kError:
        header_error_ = std::move(error);
        break;
    }
  }
  if (EqualsIgnoringCase(name, "Content-Length")) {
    uint64_t length = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    if (ec == std::errc() && end == value.data() + value.size() && !value.empty()) {
      content_length_ = length;
    }
  } else if (EqualsIgnoringCase(name, "Transfer-Encoding")) {
    chunked_ = LastCodingIsChunked(value);
  }
}

void ResponseReader::EndOfHeaders() {
  if (rules_->header_match && !header_matched_) {
    std::string error = rules_->header_name;
    if (!header_seen_) {
      error += " is missing";
    } else {
      error += " does not match expect_header";
      if (!header_error_.empty()) error += " (" + header_error_ + ")";
    }
    Decide(ProbeKind::kHeader, std::move(error));
    return;
  }
  if (!rules_->body_match) {
    Decide(ProbeKind::kOk, {});
    return;
  }
  // RFC 9112 §6.3: these answers have no body, whatever their headers say.
  const double status = status_.value_or(200);
  if (rules_->head_request || (status >= 100 && status < 200) || status == 204 || status == 304) {
    JudgeBody(body_);
  } else if (chunked_) {
    phase_ = Phase::kChunkSize;
  } else if (content_length_) {
    remaining_ = *content_length_;
    phase_ = Phase::kBody;
    if (remaining_ == 0) JudgeBody(body_);
  } else {
    to_close_ = true;
    phase_ = Phase::kBody;
  }
}

void ResponseReader::TakeChunkSize(std::string_view line) {
  size_t end = line.find_first_of("; \t");
  std::string_view digits = line.substr(0, end);
  uint64_t size = 0;
  auto [stop, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size, 16);
  if (digits.empty() || ec != std::errc() || stop != digits.data() + digits.size()) {
    Decide(ProbeKind::kBody, "has a bad chunked encoding");
    return;
  }
  if (size == 0) {
    JudgeBody(body_);  // the last chunk: trailers, if any, change nothing
    return;
  }
  remaining_ = size;
  phase_ = Phase::kChunkData;
}

void ResponseReader::TakeBody(const char*& data, const char* end) {
  const size_t available = static_cast<size_t>(end - data);
  const size_t take =
      to_close_ ? available : static_cast<size_t>(std::min<uint64_t>(remaining_, available));
  const size_t keep = std::min(take, rules_->body_max - body_bytes_);
  // The usual answer: all of a Content-Length body (or its first body_max bytes) in one
  // read. It is matched where it lies, not copied.
  if (phase_ == Phase::kBody && !to_close_ && body_bytes_ == 0 &&
      (keep == remaining_ || keep == rules_->body_max)) {
    const std::string_view body(data, keep);
    data += take;
    body_bytes_ = keep;
    JudgeBody(body);
    return;
  }
  body_.append(data, keep);
  body_bytes_ += keep;
  data += take;
  if (!to_close_) remaining_ -= take;
  const bool ended = phase_ == Phase::kBody && !to_close_ && remaining_ == 0;
  if (ended || body_bytes_ >= rules_->body_max) {
    JudgeBody(body_);  // whole, or its first body_max bytes
  } else if (phase_ == Phase::kChunkData && remaining_ == 0) {
    phase_ = Phase::kChunkEnd;
  }
}

void ResponseReader::Close(std::string closed_error) {
  if (phase_ == Phase::kDone) return;
  if (phase_ == Phase::kHeaders) {
    Decide(ProbeKind::kReceiveResponse, std::move(closed_error));
  } else {
    JudgeBody(body_);
  }
}

void ResponseReader::JudgeBody(std::string_view body) {
  std::string error;
  switch (matcher_->MatchBody(body, &error)) {
    case ResponseMatcher::Verdict::kMatch:
      Decide(ProbeKind::kOk, {});
      break;
    case ResponseMatcher::Verdict::kNoMatch:
      Decide(ProbeKind::kBody, "does not match expect_body");
      break;
    case ResponseMatcher::Verdict::kError:
      Decide(ProbeKind::kBody, "does not match expect_body (" + error + ")");
      break;
  }
}

void ResponseReader::Decide(ProbeKind kind, std::string error) {
  phase_ = Phase::kDone;
  kind_ = kind;
  error_ = std::move(error);
}

}  // namespace upcheck
