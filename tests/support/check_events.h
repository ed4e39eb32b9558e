// The probe record the registry, /status.json and metrics tests start from: foo.com's
// primary 0 at 127.0.0.1:1 refused the connection (0.25 ms) and was turned down.
#ifndef UPCHECK_TESTS_SUPPORT_CHECK_EVENTS_H_
#define UPCHECK_TESTS_SUPPORT_CHECK_EVENTS_H_

#include "upcheck/check_event.h"

namespace upcheck::testing {

inline PeerCheckEvent RefusedConnectEvent() {
  PeerCheckEvent e;
  e.upstream = "foo.com";
  e.peer = "127.0.0.1:1";
  e.kind = ProbeKind::kConnect;
  e.detail = "connection refused";
  e.duration_ms = 0.25;
  e.transition = HealthTransition::kTurnedDown;
  e.unix_ms = 1700000000123;
  return e;
}

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_CHECK_EVENTS_H_
