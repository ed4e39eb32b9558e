// ParseRequestHead: the status listener's reading of an HTTP request head, as a pure
// function of the bytes received so far (StatusServer feeds it; the fuzz target too).
//
// A head ends at "\r\n\r\n" or, from a sloppy client, "\n\n". Only the request line is
// read: "GET /status?x=1 HTTP/1.1" gives method "GET" and path "/status" (query string
// and fragment dropped; the absolute form "http://host/path" gives "/path"). Safe from any
// thread; the views in the result point into the input.
#ifndef UPCHECK_WORKERS_NET_HTTP_REQUEST_H_
#define UPCHECK_WORKERS_NET_HTTP_REQUEST_H_

#include <cstddef>
#include <string_view>

namespace upcheck {

struct RequestHead {
  bool complete = false;  // false: the head has not ended yet, read more
  // When complete: 0 for a request to answer, else the error status to send:
  // 431 (head over the limit), 400 (malformed request line), 405 (not GET or HEAD).
  int error_status = 0;
  std::string_view method;  // when complete and error_status is 0 or 405
  std::string_view path;    // when complete and error_status is 0: starts with '/'
  bool head_only = false;   // HEAD: send the headers only
};

// `received`: every byte of the request so far. A caller may keep at most
// max_head_bytes + 4 of them: beyond that the answer is 431 whatever follows. `scan_from`:
// where the head's end may start (bytes before it were already seen not to end it).
RequestHead ParseRequestHead(std::string_view received, size_t max_head_bytes,
                             size_t scan_from = 0);

}  // namespace upcheck

#endif  // UPCHECK_WORKERS_NET_HTTP_REQUEST_H_
