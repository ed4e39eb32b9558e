// Fuzz target: the status listener's request-head parser (workers/net/http_request.h).
// The first byte picks the head limit and where the bytes are cut in two reads, the rest
// is the request. Invariants: fed in two reads the way StatusServer feeds it, the parser
// gives the same answer as for the whole buffer at once; an answered request is GET or
// HEAD with a path that starts with '/' and holds no query string or fragment.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http_request.h"

namespace {

bool Same(const upcheck::RequestHead& a, const upcheck::RequestHead& b) {
  return a.complete == b.complete && a.error_status == b.error_status && a.method == b.method &&
         a.path == b.path && a.head_only == b.head_only;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t limit = (data[0] & 0x80) ? 8192 : 16 + (data[0] & 0x7f);
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t cut = input.empty() ? 0 : data[0] % (input.size() + 1);

  // As StatusServer::Consume does: keep at most limit + 4 bytes, scan from 3 before the
  // end of what was already seen.
  std::string head;
  upcheck::RequestHead r;
  for (std::string_view piece : {input.substr(0, cut), input.substr(cut)}) {
    const size_t old_size = head.size();
    head.append(piece.substr(0, limit + 4 - std::min(limit + 4, old_size)));
    r = upcheck::ParseRequestHead(head, limit, old_size >= 3 ? old_size - 3 : 0);
    if (r.complete) break;
  }
  std::string whole(input.substr(0, limit + 4));
  upcheck::RequestHead at_once = upcheck::ParseRequestHead(whole, limit);
  // The end of a head is found whichever read brings it: same answer as all at once.
  if (!Same(r, at_once)) std::abort();
  if (r.complete && r.error_status == 0) {
    if (r.method != "GET" && r.method != "HEAD") std::abort();
    if (r.head_only != (r.method == "HEAD")) std::abort();
    if (r.path.empty() || r.path.front() != '/') std::abort();
    if (r.path.find_first_of("?#") != std::string_view::npos) std::abort();
  }
  return 0;
}
