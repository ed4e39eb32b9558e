// ProbeOptionsOf: the probe options of a validated check, with spawn_checker's defaults.
//
// The one derivation Checker::Spawn and upcheck-probe share, so the tool probes exactly as
// a checker would. Pure; any thread.
#ifndef UPCHECK_CHECK_PROBE_OPTIONS_OF_H_
#define UPCHECK_CHECK_PROBE_OPTIONS_OF_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CHECK)
#error "check/probe_options_of.h belongs to check/, a layer above (see lib/meson.build)"
#endif

#include "probe/probe_options.h"
#include "upcheck/check_options.h"

namespace upcheck {

// REQUIRES: `o` passed ValidateCheckOptions (or Spawn's own checks of type, request and
// the TLS keys).
ProbeOptions ProbeOptionsOf(const CheckOptions& o);

}  // namespace upcheck

#endif  // UPCHECK_CHECK_PROBE_OPTIONS_OF_H_
