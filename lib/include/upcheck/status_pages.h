// The original's two status pages (protocol.md §11), rendered byte for byte from one
// process's own Upstreams view, like `status_page()` and `prometheus_status_page()`.
//
// Both run the view's before-read hook first, then only read it; use them from the thread
// that owns the view. Each makes at most one allocation for the page (its size is computed
// first), none when appending to a buffer that is large enough.
#ifndef UPCHECK_STATUS_PAGES_H_
#define UPCHECK_STATUS_PAGES_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_STATUS)
#error "upcheck/status_pages.h belongs to status/, a layer above (see lib/meson.build)"
#endif

#include <string>

#include "upcheck/status.h"
#include "upcheck/upstreams.h"

namespace upcheck {

// "Upstream foo.com[ (NO checkers)]\n    Primary Peers\n        <name> UP|DOWN\n...", with a
// blank line between upstreams only. Zero upstreams give the empty string.
std::string StatusPage(const Upstreams& upstreams);
// The same, appended to `page` (a server reusing one buffer for every request).
void AppendStatusPage(std::string& page, const Upstreams& upstreams);

// The `nginx_upstream_status_info` gauge family: the two header lines, then per upstream
// either the UNKNOWN summary (no checker) or its PRIMARY and BACKUP peer lines followed by
// the UP/DOWN/UNKNOWN summary. Label values are not escaped, as in the original. The view
// cannot fail to list its upstreams, so this is always ok today; the Result keeps the
// original's error path ("failed to get upstream names: ...") open for other views.
Result<std::string> PrometheusStatusPage(const Upstreams& upstreams);
// The same, appended to `page`; on error `page` may hold part of the page.
Status AppendPrometheusStatusPage(std::string& page, const Upstreams& upstreams);

}  // namespace upcheck

#endif  // UPCHECK_STATUS_PAGES_H_
