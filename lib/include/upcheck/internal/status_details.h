// Internal to this source tree (upcheckd, the tools and the tests); not installed.
// The extended status renderers of DESIGN §5: `/status.json` and the `upcheck_*` Prometheus
// families that follow the original's lines on `/metrics`.
//
// Both read one process's own Upstreams view (up/down, checker counts) plus, when given,
// the segment's Registry (published versions and per-peer details written by whichever
// worker probed) and SharedDict (the ok:/nok: streak counters). Like the original's pages
// they run the view's before-read hook first; use them from the thread that owns the view.
// The registry is read without locks (see registry.h); the dict takes its lock per key.
#ifndef UPCHECK_INTERNAL_STATUS_DETAILS_H_
#define UPCHECK_INTERNAL_STATUS_DETAILS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_STATUS)
#error "upcheck/internal/status_details.h belongs to status/, a layer above (see lib/meson.build)"
#endif

#include <string>
#include <string_view>

#include "upcheck/internal/registry.h"
#include "upcheck/shared_dict.h"
#include "upcheck/upstreams.h"

namespace upcheck {

// The project version ("0.1.0"), as meson's project() declares it.
std::string_view UpcheckVersion();

// DESIGN §5's JSON document, keys in this order:
//   {"worker_pid", "upstreams": [{"name", "checkers", "version", "peers": [{"name", "role",
//    "id", "up", "ok", "nok", "checks", "failures", "failures_by_result", "last_check",
//    "last_duration_ms", "last_result", "last_error", "last_change", "next_check", "admin",
//    "admin_reason", "admin_expires"}]}]}
// Upstreams and peers come in the view's order, primary peers before backup ones.
// - up, checkers: this process's view.
// - version: registry->published_version(); 0 without a registry or when the registry does
//   not know the upstream.
// - ok, nok: the consecutive success/failure counters `ok:<u>:p<id>` / `nok:<u>:b<id>` read
//   from `dict`; 0 when missing or when dict is nullptr.
// - checks ... last_change: registry->details(). Timestamps are RFC 3339 UTC with
//   milliseconds ("2026-11-23T18:00:00.123Z"), null when never. Without a registry (a
//   segment no daemon set up), or for an upstream the registry does not
//   know, these eight fields are omitted rather than faked, so that a reader can tell
//   "unknown" from "zero". failures_by_result is an object of the nonzero counts by
//   `last_result` name ({"body":3}; {} for none): its values add up to failures.
// - next_check: when the schedule has the peer due next (RFC 3339), as its last checker
//   reported it; left out, not null, until one did.
// - admin, admin_reason, admin_expires: registry->admin() now ("auto", "" and null when
//   none or expired); left out with the details.
// - The balancer (DESIGN §10), only for upstreams that set it: "panic" and "panic_total"
//   after "version" (panic_threshold), and "slow_start_weight" after "admin_expires"
//   (slow_start: SlowStartWeight() now, 0.1..1).
// Numbers that are whole (versions, counters) are printed as integers.
std::string StatusJson(const Upstreams& view, const Registry* registry, SharedDict* dict,
                       int worker_pid);
// The same, appended to `out` (a server reusing one buffer for every request).
void AppendStatusJson(std::string& out, const Upstreams& view, const Registry* registry,
                      SharedDict* dict, int worker_pid);
// The same without a dict: ok and nok are 0.
std::string StatusJson(const Upstreams& view, const Registry* registry, int worker_pid);

// The `upcheck_*` families, in Prometheus text format 0.0.4, meant to be appended after
// PrometheusStatusPage(). Each family has # HELP and # TYPE lines; samples carry the labels
// upstream, peer and role ("primary" | "backup"), escaped (\\, \", \n) as the format
// requires, unlike the original's lines.
//   upcheck_peer_up                               gauge   1 up / 0 down in this view
//   upcheck_peer_checks_total{result=success|failure}  counter
//   upcheck_peer_check_failures_total{result=connect|...|body}  counter, one sample per
//                                                 result with a nonzero count; they add
//                                                 up to checks_total{result="failure"}
//   upcheck_peer_transitions_total{to=up|down}    counter
//   upcheck_peer_check_duration_seconds           gauge   the last check's duration
//   upcheck_peer_last_check_timestamp_seconds     gauge   Unix time of the last check
//   upcheck_peer_admin_state{state=up|down|drain} gauge   1, for each peer in one of these
//                                                 admin states (none, and no family, when
//                                                 every peer is auto or expired)
//   upcheck_peer_next_check_timestamp_seconds     gauge   Unix time the peer is next due
//                                                 (no family until a checker reported one)
//   upcheck_peer_slow_start_weight                gauge   SlowStartWeight(), for peers of
//                                                 upstreams with slow_start
//   upcheck_upstream_panic{upstream}              gauge   1 while the balancers pick among
//                                                 all primaries, for upstreams with
//   upcheck_panic_total{upstream}                 counter panic_threshold: entries into it
//   upcheck_events_total{kind=down|up|failure|admin|worker_exit|worker_spawn|reload|
//                        fleet_fallback}          counter, journal events by kind
//   upcheck_build_info{version="<project version>"} 1
// Without a registry only upcheck_peer_up and upcheck_build_info are written. The duration
// and timestamp samples of a peer that was never checked are left out (a 0 timestamp would
// read as "checked in 1970"). One allocation for the page in the common case; linear in
// the number of peers.
std::string UpcheckMetrics(const Upstreams& view, const Registry* registry);
// The same, appended to `out` (reserved once for the whole page): what /metrics serves
// after PrometheusStatusPage() without a second multi-megabyte buffer and copy.
void AppendUpcheckMetrics(std::string& out, const Upstreams& view, const Registry* registry);

}  // namespace upcheck

#endif  // UPCHECK_INTERNAL_STATUS_DETAILS_H_
