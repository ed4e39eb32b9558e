// upcheck-shmctl events: prints the segment's event journal, and with --follow keeps
// printing as events come, across reloads (the journal moves to the new segment with its
// numbers) and restarts (a new journal: said so, then followed from its start). A reader
// that fell behind the ring is told which numbers it missed. Same conventions as
// shmctl_commands.h.
#ifndef UPCHECK_TOOLS_SHMCTL_EVENTS_H_
#define UPCHECK_TOOLS_SHMCTL_EVENTS_H_

#include <optional>
#include <ostream>
#include <string>

#include "upcheck/status.h"

namespace upcheck::shmctl {

struct EventsArgs {
  std::optional<std::string> since;  // a sequence number, inclusive
  bool follow = false;
  bool json = false;
};

// One line per event (EventLine or, with --json, EventJson) and per gap. Without --since:
// every event the ring holds. Errors: a bad --since, one beyond the next number.
Status RunEvents(const std::string& segment_name, const EventsArgs& args, std::ostream& out,
                 std::ostream& err);

}  // namespace upcheck::shmctl

#endif  // UPCHECK_TOOLS_SHMCTL_EVENTS_H_
