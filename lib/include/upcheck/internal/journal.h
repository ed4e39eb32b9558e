// Internal to this source tree (upcheckd, the nginx module's engine, the tools, the tests).
// Journal: the segment's event ring. Every event gets the next sequence number; the ring
// keeps the newest capacity() of them. Any attached process appends (under a robust
// mutex, so a writer killed mid-event leaves neither a torn event nor a hole in the
// numbers); readers never lock: they copy an event between two equal stamps and are told
// which sequence numbers they missed because the ring moved past them.
#ifndef UPCHECK_INTERNAL_JOURNAL_H_
#define UPCHECK_INTERNAL_JOURNAL_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_REGISTRY)
#error "upcheck/internal/journal.h belongs to registry/, a layer above (see lib/meson.build)"
#endif

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "upcheck/segment.h"
#include "upcheck/status.h"
#include "upcheck/upstreams.h"

namespace upcheck {

namespace shm {
struct JournalHeaderShm;
}  // namespace shm

// What happened. The values are stored in shm and counted in upcheck_events_total:
// append only.
enum class EventKind : uint8_t {
  kDown = 0,           // a peer turned down (message: the transition, detail: the failure)
  kUp = 1,             // a peer turned up
  kFailure = 2,        // the first failed check after a success (detail: the failure)
  kAdmin = 3,          // upcheck-shmctl set an admin state (detail: the reason)
  kWorkerExit = 4,     // a worker process exited or was found gone
  kWorkerSpawn = 5,    // the master forked a worker
  kReload = 6,         // a reload was done or failed
  kFleetFallback = 7,  // a host fell back to probing alone
};
inline constexpr size_t kEventKindCount = 8;
// "down", "up", "failure", "admin", "worker_exit", "worker_spawn", "reload", "fleet_fallback".
std::string_view EventKindName(EventKind kind);

struct JournalEvent {
  uint64_t seq = 0;  // given by Append
  int64_t unix_ms = 0;
  int32_t pid = 0;  // the process that appended it
  EventKind kind = EventKind::kDown;
  std::string upstream;  // "" when not about an upstream
  std::string peer;      // "" when not about a peer
  bool backup = false;
  std::string message;                   // one line, as the log says it
  std::string detail;                    // the failure text, or the admin reason; may be ""
  AdminState admin = AdminState::kAuto;  // kAdmin: the state set
  int64_t expires_ms = 0;                // kAdmin: Unix ms; 0: never
};

// What a reader got: events in order, and the numbers it asked for that the ring no
// longer holds (missed_from..missed_to, inclusive; both 0 when none).
struct JournalBatch {
  std::vector<JournalEvent> events;
  uint64_t missed_from = 0;
  uint64_t missed_to = 0;
  uint64_t next_seq = 0;  // the number the next event will get
  uint64_t missed() const { return missed_to == 0 ? 0 : missed_to - missed_from + 1; }
};

class Journal {
 public:
  static constexpr uint32_t kDefaultCapacity = 4096;
  // Bytes kept per event for upstream, peer, message and detail together; longer texts are
  // cut (ending in "...").
  static constexpr size_t kTextBytes = 472;

  // Bytes to reserve in the segment for a ring that keeps `capacity` events.
  static size_t BytesNeeded(uint32_t capacity = kDefaultCapacity);
  // Set-up, before Publish(): the segment's journal area, empty, first number 1.
  static Result<Journal> Create(Segment& segment, uint32_t capacity = kDefaultCapacity);
  // Any process: the segment's journal, bounds-checked; an error when it has none.
  static Result<Journal> Attach(const Segment& segment);

  // Appends `event` (its seq is ignored) and returns its number; 0 when the journal was
  // sealed. Stamps unix_ms (when 0) and pid. Never fails otherwise: the oldest event goes.
  uint64_t Append(const JournalEvent& event);
  // The events from `since` (inclusive; 0 or 1: from the oldest held), at most `max`.
  JournalBatch Read(uint64_t since, size_t max = 1024) const;

  uint64_t next_seq() const;
  // The oldest number still held (next_seq() when empty).
  uint64_t oldest_seq() const;
  uint32_t capacity() const;
  // Tells one daemon's journal from another's: kept across a reload, new at a fresh start.
  uint64_t id() const;
  // Events appended so far, by kind (kept across a reload).
  std::array<uint64_t, kEventKindCount> Counts() const;

  // A reload: this journal takes `old`'s events, numbers, id and counts, and `old` is
  // sealed so that a process still writing to it cannot reuse a number. Set-up only (the
  // new segment is not published yet). Returns how many events it took.
  size_t CarryFrom(Journal& old);
  // After Seal() Append() drops events; a follower that sees sealed() looks for the
  // segment's successor.
  void Seal();
  bool sealed() const;

 private:
  explicit Journal(shm::JournalHeaderShm* header) : h_(header) {}
  shm::JournalHeaderShm* h_;
};

// When set, Append() calls it with the lock held and the event half written, so that a
// test can kill the writer there. nullptr removes it.
void SetJournalMidWriteHookForTesting(void (*hook)());

}  // namespace upcheck

#endif  // UPCHECK_INTERNAL_JOURNAL_H_
