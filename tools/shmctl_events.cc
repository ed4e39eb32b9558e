#include "shmctl_events.h"

#include <time.h>

#include <charconv>
#include <cstdint>
#include <memory>
#include <string_view>

#include "upcheck/internal/event_format.h"
#include "upcheck/internal/journal.h"
#include "upcheck/segment.h"

namespace upcheck::shmctl {
namespace {

constexpr int64_t kPollMs = 20;
// A follower checks this often whether the segment's name now names another segment (a
// daemon that was killed and started again does not seal the old journal).
constexpr int kPollsPerNameCheck = 50;

Result<uint64_t> ParseSince(const std::string& text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [at, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || at != end) {
    return Result<uint64_t>::Error("--since: \"" + text +
                                   "\" is not a sequence number (a whole number, 1 or more)");
  }
  return value;
}

void Pause() {
  timespec ts{0, kPollMs * 1000000};
  nanosleep(&ts, nullptr);
}

// The open segment and its journal; the segment must outlive the journal's pointers.
struct Source {
  std::unique_ptr<Segment> segment;
  std::optional<Journal> journal;
};

Result<Source> OpenSource(const std::string& name) {
  Result<std::unique_ptr<Segment>> segment = Segment::Open(name);
  if (!segment.ok()) return segment.status();
  Result<Journal> journal = Journal::Attach(**segment);
  if (!journal.ok()) return journal.status();
  return Source{std::move(*segment), *journal};
}

class Printer {
 public:
  Printer(bool json, std::ostream& out) : json_(json), out_(out) {}
  // Prints the batch and returns the number to read from next.
  uint64_t Print(const JournalBatch& batch, uint64_t from, uint32_t capacity) {
    if (batch.missed() > 0) {
      out_ << (json_ ? GapJson(batch.missed_from, batch.missed_to)
                     : GapLine(batch.missed_from, batch.missed_to, capacity))
           << '\n';
      from = batch.missed_to + 1;
    }
    for (const JournalEvent& e : batch.events) {
      out_ << (json_ ? EventJson(e) : EventLine(e)) << '\n';
      from = e.seq + 1;
    }
    out_.flush();
    return from;
  }

 private:
  bool json_;
  std::ostream& out_;
};

// Waits for the segment named `name` to hold a journal other than `current` or a
// successor of it; returns it and where to go on reading.
Source Reopen(const std::string& name, const Source& current, uint64_t* from, std::ostream& err) {
  bool said = false;
  for (;;) {
    Result<Source> next = OpenSource(name);
    if (next.ok() && !next->journal->sealed()) {
      if (next->journal->id() != current.journal->id()) {
        err << "upcheck-shmctl: the journal was started anew (a new daemon); "
               "following it from its first event\n";
        *from = 1;
      }
      return std::move(*next);
    }
    if (!said) {
      err << "upcheck-shmctl: segment '" << name << "' is gone; waiting for it to come back\n";
      said = true;
    }
    Pause();
  }
}

// Whether the name now names a segment other than the one followed.
bool Replaced(const std::string& name, const Source& current) {
  Result<Source> now = OpenSource(name);
  return !now.ok() || now->journal->id() != current.journal->id();
}

}  // namespace

Status RunEvents(const std::string& segment_name, const EventsArgs& args, std::ostream& out,
                 std::ostream& err) {
  uint64_t from = 0;
  if (args.since) {
    Result<uint64_t> since = ParseSince(*args.since);
    if (!since.ok()) return since.status();
    from = *since;
  }
  Result<Source> opened = OpenSource(segment_name);
  if (!opened.ok()) return opened.status();
  Source source = std::move(*opened);
  const uint64_t next = source.journal->next_seq();
  if (from > next) {
    return Status::Error("--since " + std::to_string(from) + ": the journal's next event is " +
                         std::to_string(next) + " (was the daemon started anew?)");
  }
  Printer printer(args.json, out);
  if (from == 0) from = source.journal->oldest_seq();
  for (int polls = 0;; ++polls) {
    const JournalBatch batch = source.journal->Read(from);
    from = printer.Print(batch, from, source.journal->capacity());
    if (!batch.events.empty() || batch.missed() > 0) continue;
    if (!args.follow) return Status::Ok();
    if (source.journal->sealed() ||
        (polls % kPollsPerNameCheck == 0 && Replaced(segment_name, source))) {
      // A sealed journal has nothing more, but read once more what came before the seal.
      from = printer.Print(source.journal->Read(from), from, source.journal->capacity());
      source = Reopen(segment_name, source, &from, err);
      continue;
    }
    Pause();
  }
}

}  // namespace upcheck::shmctl
