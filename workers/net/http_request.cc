#include "http_request.h"

#include <optional>

namespace upcheck {
namespace {

// The end of the head ("\r\n\r\n", or "\n\n") at or after `from`: the offset just past
// it, or npos.
size_t HeadEnd(std::string_view head, size_t from) {
  for (size_t i = from; i < head.size(); ++i) {
    if (head[i] != '\n') continue;
    if (i >= 1 && head[i - 1] == '\n') return i + 1;
    if (i >= 2 && head[i - 1] == '\r' && head[i - 2] == '\n') return i + 1;
  }
  return std::string_view::npos;
}

struct RequestLine {
  std::string_view method;
  std::string_view path;  // without query string or fragment
};

// "GET /status?x=1 HTTP/1.1" -> {"GET", "/status"}; nullopt when malformed.
std::optional<RequestLine> ParseRequestLine(std::string_view head) {
  std::string_view line = head.substr(0, head.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return std::nullopt;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return std::nullopt;
  if (line.substr(sp2 + 1).substr(0, 5) != "HTTP/") return std::nullopt;
  RequestLine request{line.substr(0, sp1), line.substr(sp1 + 1, sp2 - sp1 - 1)};
  // Absolute form: "http://host:port/path".
  for (std::string_view scheme : {"http://", "https://"}) {
    if (request.path.substr(0, scheme.size()) == scheme) {
      const size_t slash = request.path.find('/', scheme.size());
      request.path = slash == std::string_view::npos ? "/" : request.path.substr(slash);
    }
  }
  request.path = request.path.substr(0, request.path.find_first_of("?#"));
  if (request.path.empty() || request.path.front() != '/') return std::nullopt;
  return request;
}

}  // namespace

RequestHead ParseRequestHead(std::string_view received, size_t max_head_bytes, size_t scan_from) {
  RequestHead r;
  const size_t end = HeadEnd(received, scan_from);
  if (end == std::string_view::npos ? received.size() > max_head_bytes : end > max_head_bytes) {
    r.complete = true;
    r.error_status = 431;
    return r;
  }
  if (end == std::string_view::npos) return r;
  r.complete = true;
  std::optional<RequestLine> line = ParseRequestLine(received.substr(0, end));
  if (!line) {
    r.error_status = 400;
    return r;
  }
  r.method = line->method;
  r.head_only = line->method == "HEAD";
  if (line->method != "GET" && !r.head_only) {
    r.error_status = 405;
    return r;
  }
  r.path = line->path;
  return r;
}

}  // namespace upcheck
