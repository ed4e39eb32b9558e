#include "probe/probe_result.h"

#include <uv.h>

#include <array>
#include <cstring>
#include <string>

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
  }
  return "unknown";
}

std::string_view ProbeResultName(const ProbeResult& result) {
  return result.timed_out ? "timeout" : ProbeKindName(result.kind);
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
      return "bad status line from " + name + ": " + error;
    case ProbeKind::kStatusCode:
      return "bad status code from " + name + ": " + error;
  }
  return error;
}

}  // namespace upcheck
