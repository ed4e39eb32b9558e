// The context a checker appends to its lines about a peer, in nginx's own convention
// (`, upstream: "foo.com"`): one address may sit in several upstreams, so the peer alone
// does not say which pool moved. A transition also says how many primaries are still up,
// as HAProxy's "N active servers left" does. Pure functions; no state.
#ifndef UPCHECK_CHECK_LOG_CONTEXT_H_
#define UPCHECK_CHECK_LOG_CONTEXT_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CHECK)
#error "check/log_context.h belongs to check/, a layer above (see lib/meson.build)"
#endif

#include <cstddef>
#include <string>
#include <string_view>

namespace upcheck {

// `, upstream: "NAME"`, to append to a line about one of NAME's peers.
std::string UpstreamLogContext(std::string_view upstream);

// `, upstream: "NAME", primaries up: UP/TOTAL`, for a turned up/down line.
std::string TransitionLogContext(std::string_view upstream, size_t primaries_up, size_t primaries);

}  // namespace upcheck

#endif  // UPCHECK_CHECK_LOG_CONTEXT_H_
