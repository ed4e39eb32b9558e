#include "probe/probe_result.h"

#include <uv.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <utility>

namespace upcheck {

namespace {

// strerror_r comes in a GNU flavour (returns the text) and an XSI one (fills the buffer).
[[maybe_unused]] const char* StrerrorText(int rc, const char* buffer) {
  return rc == 0 ? buffer : "unknown error";
}
[[maybe_unused]] const char* StrerrorText(const char* text, const char* /*buffer*/) { return text; }

}  // namespace

std::string_view ProbeKindName(ProbeKind kind) {
  switch (kind) {
    case ProbeKind::kOk:
      return "ok";
    case ProbeKind::kConnect:
      return "connect";
    case ProbeKind::kTls:
      return "tls";
    case ProbeKind::kSend:
      return "send";
    case ProbeKind::kReceive:
      return "receive";
    case ProbeKind::kStatusLine:
      return "status_line";
    case ProbeKind::kStatusCode:
      return "status_code";
    case ProbeKind::kSocket:
      return "socket";
    case ProbeKind::kHeader:
      return "header";
    case ProbeKind::kBody:
      return "body";
    case ProbeKind::kReceiveResponse:
      return "receive";
  }
  return "unknown";
}

std::string_view ProbeResultName(ProbeKind kind, bool timed_out) {
  return timed_out ? "timeout" : ProbeKindName(kind);
}

std::string_view ProbeResultName(const ProbeResult& result) {
  return ProbeResultName(result.kind, result.timed_out);
}

std::string SocketErrorText(int uv_error) {
  if (uv_error == UV_EOF) {
    return "closed";
  }
  std::string text;
  if (uv_error < 0 && uv_error > -4000) {  // on Unix, libuv's codes are negated errnos
    std::array<char, 128> buffer{};
    text = StrerrorText(strerror_r(-uv_error, buffer.data(), buffer.size()), buffer.data());
  } else {
    text = uv_strerror(uv_error);
  }
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return text;
}

std::string ProbeMessage(ProbeKind kind, const std::string& name, const std::string& error) {
  switch (kind) {
    case ProbeKind::kOk:
      return {};
    case ProbeKind::kSocket:
      return "failed to create stream socket: " + error;
    case ProbeKind::kConnect:
      return "failed to connect to " + name + ": " + error;
    case ProbeKind::kTls:
      return "failed to ssl handshake to " + name + ": " + error;
    case ProbeKind::kSend:
      return "failed to send request to " + name + ": " + error;
    case ProbeKind::kReceive:
      return "failed to receive status line from " + name + ": " + error;
    case ProbeKind::kStatusLine:
      // The original logs the line as the peer sent it; escaped and cut, it cannot forge
      // or flood a log line.
      return "bad status line from " + name + ": " + EscapedForLog(error);
    case ProbeKind::kStatusCode:
      return "bad status code from " + name + ": " + error;
    case ProbeKind::kHeader: {
      size_t space = error.find(' ');
      if (space == std::string::npos) return "header of " + name + ": " + error;
      return "header " + error.substr(0, space) + " of " + name + error.substr(space);
    }
    case ProbeKind::kBody:
      return "body of " + name + " " + error;
    case ProbeKind::kReceiveResponse:
      return "failed to receive response from " + name + ": " + error;
  }
  return error;
}

void SetOutcome(ProbeResult* result, ProbeKind kind, const std::string& name, std::string error,
                bool timed_out) {
  result->kind = kind;
  result->timed_out = timed_out;
  if (kind == ProbeKind::kOk) return;
  result->message = ProbeMessage(kind, name, error);
  result->error = std::move(error);
}

std::string EscapedForLog(std::string_view bytes, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const size_t n = std::min(bytes.size(), max_bytes);
  out.reserve(n + 8);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (bytes.size() > n) out += "...";
  return out;
}

}  // namespace upcheck
