// Internal to this source tree (upcheckd, the tools and the tests); not installed.
// How a journal event is shown: one JSON object per line (upcheck-shmctl events --json, and
// what on_event commands read on stdin) and one text line for a terminal. A gap (events the
// ring dropped before a reader got them) has a form of its own in both.
#ifndef UPCHECK_INTERNAL_EVENT_FORMAT_H_
#define UPCHECK_INTERNAL_EVENT_FORMAT_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_STATUS)
#error "upcheck/internal/event_format.h belongs to status/, a layer above (see lib/meson.build)"
#endif

#include <cstdint>
#include <string>

#include "upcheck/internal/journal.h"

namespace upcheck {

// {"seq":12,"time":"2026-12-06T04:50:00.123Z","kind":"down","pid":41,"upstream":"foo.com",
//  "peer":"127.0.0.1:8080","role":"primary","message":"...","error":"..."}
// upstream, peer and role only when the event is about one; "error" (down, up after a
// failure, failure) or "admin", "reason" and "expires" (admin) only when set.
std::string EventJson(const JournalEvent& event);

// "12 2026-12-06T04:50:00.123Z down peer 127.0.0.1:8080 is turned down after 2 failure(s),
//  upstream: "foo.com", error: "failed to connect to 127.0.0.1:8080: connection refused""
std::string EventLine(const JournalEvent& event);

// {"gap":{"from":1,"to":40,"missed":40}} and "# missed 40 events (1..40): the journal
// keeps the last N".
std::string GapJson(uint64_t from, uint64_t to);
std::string GapLine(uint64_t from, uint64_t to, uint32_t capacity);

// RFC 3339 UTC with milliseconds, "2026-12-06T04:50:00.123Z".
std::string FormatUnixMs(int64_t unix_ms);

}  // namespace upcheck

#endif  // UPCHECK_INTERNAL_EVENT_FORMAT_H_
