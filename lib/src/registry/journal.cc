// Journal: the event ring (see upcheck/internal/journal.h).
//
// Writers serialise on a robust mutex and publish in two steps: the event's slot first
// (its stamp odd while being written, then seq << 1), then next_seq. A writer killed
// before the second step leaves next_seq where it was, so the next writer rewrites the
// same slot under the same number: nothing torn is ever visible and no number is skipped.
// Readers take no lock: an event is valid when its stamp reads seq << 1 before and after
// the copy; any other stamp means the ring went past it.
#include "upcheck/internal/journal.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <system_error>
#include <type_traits>

#include "upcheck/internal/segment_setup.h"

namespace upcheck {
namespace shm {

// "ucjourn1": the last byte is the layout's version.
inline constexpr uint64_t kJournalMagic = 0x75636a6f75726e31ull;
inline constexpr size_t kEventKindSlots = 16;

struct EventShm {
  std::atomic<uint64_t> stamp;  // seq << 1 once written; (seq << 1) | 1 while being written
  int64_t unix_ms;
  int64_t expires_ms;
  int32_t pid;
  uint8_t kind;
  uint8_t backup;
  uint8_t admin;
  uint8_t reserved;
  uint16_t upstream_len;
  uint16_t peer_len;
  uint16_t message_len;
  uint16_t detail_len;
  char text[Journal::kTextBytes];  // upstream, peer, message, detail, back to back
};
static_assert(sizeof(EventShm) == 512);

struct JournalHeaderShm {
  uint64_t magic;
  uint64_t bytes;
  uint32_t capacity;  // events kept; the ring has one slot more
  uint32_t event_bytes;
  uint64_t id;
  std::atomic<uint32_t> sealed;
  uint32_t reserved;
  std::atomic<uint64_t> next_seq;
  std::atomic<uint64_t> counts[kEventKindSlots];
  pthread_mutex_t mutex;  // robust, process-shared: writers only
};

static_assert(std::is_standard_layout_v<EventShm> && std::is_trivially_destructible_v<EventShm>);
static_assert(std::is_standard_layout_v<JournalHeaderShm> &&
              std::is_trivially_destructible_v<JournalHeaderShm>);
static_assert(kEventKindCount <= kEventKindSlots);

}  // namespace shm

using shm::EventShm;
using shm::JournalHeaderShm;

namespace {

constexpr size_t kHeaderBytes = (sizeof(JournalHeaderShm) + 63) / 64 * 64;
constexpr size_t kUpstreamCap = 128;
constexpr size_t kPeerCap = 128;
constexpr auto kRelaxed = std::memory_order_relaxed;

void (*g_mid_write_hook)() = nullptr;

EventShm* Events(JournalHeaderShm* h) {
  return reinterpret_cast<EventShm*>(reinterpret_cast<char*>(h) + kHeaderBytes);
}
// One slot more than the events kept: the slot the next writer fills is never one a reader
// was promised.
EventShm& SlotOf(JournalHeaderShm* h, uint64_t seq) { return Events(h)[seq % (h->capacity + 1)]; }

int64_t UnixNowMs() {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  using std::chrono::system_clock;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Holds the writers' mutex. A holder that died left at most a half-written slot past
// next_seq, which the next Append rewrites: nothing to repair but the mutex itself.
class WriterLock {
 public:
  explicit WriterLock(JournalHeaderShm* h) : h_(h) {
    int rc = pthread_mutex_lock(&h_->mutex);
    if (rc == EOWNERDEAD) {
      pthread_mutex_consistent(&h_->mutex);
    } else if (rc != 0) {
      // NOLINTNEXTLINE(concurrency-mt-unsafe): at worst a garbled message, then abort.
      std::fprintf(stderr, "upcheck: journal lock failed: %s\n", std::strerror(rc));
      std::abort();
    }
  }
  ~WriterLock() { pthread_mutex_unlock(&h_->mutex); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  JournalHeaderShm* h_;
};

// Copies `s` into text[at..], at most `cap` bytes (cut ones end in "..."); returns its size.
uint16_t Put(char* text, size_t at, std::string_view s, size_t cap) {
  size_t n = std::min(s.size(), cap);
  std::memcpy(text + at, s.data(), n);
  if (n < s.size() && n >= 3) std::copy_n("...", 3, text + at + n - 3);  // sized, no NUL
  return static_cast<uint16_t>(n);
}

void Write(EventShm& e, const JournalEvent& in) {
  e.unix_ms = in.unix_ms;
  e.expires_ms = in.expires_ms;
  e.pid = in.pid;
  e.kind = static_cast<uint8_t>(in.kind);
  e.backup = in.backup ? 1 : 0;
  e.admin = static_cast<uint8_t>(in.admin);
  size_t at = 0;
  e.upstream_len = Put(e.text, at, in.upstream, kUpstreamCap);
  at += e.upstream_len;
  if (g_mid_write_hook != nullptr) g_mid_write_hook();
  e.peer_len = Put(e.text, at, in.peer, kPeerCap);
  at += e.peer_len;
  // The message and the detail share what is left; the detail gets at least half of it.
  const size_t left = Journal::kTextBytes - at;
  const size_t detail_room = std::min(in.detail.size(), left / 2);
  e.message_len = Put(e.text, at, in.message, left - detail_room);
  at += e.message_len;
  e.detail_len = Put(e.text, at, in.detail, Journal::kTextBytes - at);
}

// A consistent copy of the event numbered seq, or nothing when the ring moved past it.
std::optional<JournalEvent> Copy(const EventShm& e, uint64_t seq) {
  if (e.stamp.load(std::memory_order_acquire) != seq << 1) return std::nullopt;
  JournalEvent out;
  out.seq = seq;
  out.unix_ms = e.unix_ms;
  out.expires_ms = e.expires_ms;
  out.pid = e.pid;
  out.kind = static_cast<EventKind>(e.kind);
  out.backup = e.backup != 0;
  out.admin = static_cast<AdminState>(e.admin);
  const size_t lens[] = {e.upstream_len, e.peer_len, e.message_len, e.detail_len};
  std::string* dest[] = {&out.upstream, &out.peer, &out.message, &out.detail};
  size_t at = 0;
  for (size_t i = 0; i < 4; ++i) {
    const size_t n = std::min(lens[i], Journal::kTextBytes - at);
    dest[i]->assign(e.text + at, n);
    at += n;
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  if (e.stamp.load(kRelaxed) != seq << 1) return std::nullopt;
  if (out.kind >= static_cast<EventKind>(kEventKindCount)) return std::nullopt;
  return out;
}

uint64_t NewId() {
  std::random_device rd;
  return (uint64_t{rd()} << 32 | rd()) | 1;  // never 0
}

}  // namespace

std::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kDown:
      return "down";
    case EventKind::kUp:
      return "up";
    case EventKind::kFailure:
      return "failure";
    case EventKind::kAdmin:
      return "admin";
    case EventKind::kWorkerExit:
      return "worker_exit";
    case EventKind::kWorkerSpawn:
      return "worker_spawn";
    case EventKind::kReload:
      return "reload";
    case EventKind::kFleetFallback:
      return "fleet_fallback";
  }
  return "unknown";
}

void SetJournalMidWriteHookForTesting(void (*hook)()) { g_mid_write_hook = hook; }

size_t Journal::BytesNeeded(uint32_t capacity) {
  return kHeaderBytes + (size_t{capacity} + 1) * sizeof(EventShm);
}

Result<Journal> Journal::Create(Segment& segment, uint32_t capacity) {
  if (capacity == 0) return Result<Journal>::Error("a journal holds at least one event");
  const size_t bytes = BytesNeeded(capacity);
  Result<void*> area = SegmentSetUp::AllocateArea(segment, SegmentArea::kJournal, bytes);
  if (!area.ok()) return area.status();
  auto* h = new (*area) JournalHeaderShm{};
  h->magic = shm::kJournalMagic;
  h->bytes = bytes;
  h->capacity = capacity;
  h->event_bytes = sizeof(EventShm);
  h->id = NewId();
  h->next_seq.store(1);
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  const int rc = pthread_mutex_init(&h->mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) {
    return Result<Journal>::Error("cannot initialise the journal lock: " +
                                  std::generic_category().message(rc));
  }
  return Journal(h);
}

Result<Journal> Journal::Attach(const Segment& segment) {
  size_t bytes = 0;
  auto* h =
      static_cast<JournalHeaderShm*>(SegmentSetUp::Area(segment, SegmentArea::kJournal, &bytes));
  const std::string who = "segment '" + segment.name() + "'";
  if (h == nullptr) return Result<Journal>::Error(who + " has no event journal");
  if (bytes < kHeaderBytes || h->magic != shm::kJournalMagic || h->bytes != bytes ||
      h->event_bytes != sizeof(EventShm) || h->capacity == 0 || BytesNeeded(h->capacity) > bytes) {
    return Result<Journal>::Error(who + " has a corrupt event journal");
  }
  return Journal(h);
}

uint64_t Journal::Append(const JournalEvent& event) {
  WriterLock lock(h_);
  if (h_->sealed.load(kRelaxed) != 0) return 0;
  const uint64_t seq = h_->next_seq.load(kRelaxed);
  EventShm& e = SlotOf(h_, seq);
  e.stamp.store((seq << 1) | 1, kRelaxed);
  std::atomic_thread_fence(std::memory_order_release);
  JournalEvent stamped = event;
  if (stamped.unix_ms == 0) stamped.unix_ms = UnixNowMs();
  stamped.pid = getpid();
  Write(e, stamped);
  e.stamp.store(seq << 1, std::memory_order_release);
  h_->next_seq.store(seq + 1, std::memory_order_release);
  const auto kind = static_cast<size_t>(event.kind);
  if (kind < kEventKindCount) h_->counts[kind].fetch_add(1, kRelaxed);
  return seq;
}

JournalBatch Journal::Read(uint64_t since, size_t max) const {
  JournalBatch batch;
  const uint64_t next = h_->next_seq.load(std::memory_order_acquire);
  batch.next_seq = next;
  uint64_t seq = std::max<uint64_t>(since, 1);
  for (; seq < next && batch.events.size() < max; ++seq) {
    std::optional<JournalEvent> e;
    if (next - seq <= h_->capacity) e = Copy(SlotOf(h_, seq), seq);
    if (e) {
      batch.events.push_back(std::move(*e));
      continue;
    }
    // Overwritten. The ring loses its oldest first: after an event was copied, a miss
    // means writers lapped this reader, and the next Read reports it.
    if (!batch.events.empty()) break;
    if (batch.missed_to == 0) batch.missed_from = seq;
    batch.missed_to = seq;
  }
  return batch;
}

uint64_t Journal::next_seq() const { return h_->next_seq.load(std::memory_order_acquire); }

uint64_t Journal::oldest_seq() const {
  const uint64_t next = next_seq();
  return next > h_->capacity ? next - h_->capacity : 1;
}

uint32_t Journal::capacity() const { return h_->capacity; }
uint64_t Journal::id() const { return h_->id; }
bool Journal::sealed() const { return h_->sealed.load(std::memory_order_acquire) != 0; }

std::array<uint64_t, kEventKindCount> Journal::Counts() const {
  std::array<uint64_t, kEventKindCount> out{};
  for (size_t k = 0; k < kEventKindCount; ++k) out[k] = h_->counts[k].load(kRelaxed);
  return out;
}

void Journal::Seal() {
  WriterLock lock(h_);
  h_->sealed.store(1, std::memory_order_release);
}

size_t Journal::CarryFrom(Journal& old) {
  WriterLock lock(old.h_);
  old.h_->sealed.store(1, std::memory_order_release);
  const uint64_t next = old.h_->next_seq.load(kRelaxed);
  uint64_t from = next > h_->capacity ? next - h_->capacity : 1;
  if (next > old.h_->capacity) from = std::max(from, next - old.h_->capacity);
  size_t carried = 0;
  for (uint64_t seq = from; seq < next; ++seq) {
    std::optional<JournalEvent> e = Copy(SlotOf(old.h_, seq), seq);
    if (!e) continue;  // the slot a killed writer left half written
    EventShm& slot = SlotOf(h_, seq);
    Write(slot, *e);
    slot.stamp.store(seq << 1, std::memory_order_release);
    ++carried;
  }
  h_->id = old.h_->id;
  for (size_t k = 0; k < kEventKindCount; ++k) h_->counts[k].store(old.h_->counts[k].load());
  h_->next_seq.store(next, std::memory_order_release);
  return carried;
}

}  // namespace upcheck
