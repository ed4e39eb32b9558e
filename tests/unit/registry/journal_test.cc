// Journal: numbers without holes, readers told what the ring dropped, writers killed at
// any instant (in the middle of an event, holding the lock) leaving nothing torn, and a
// reload's carry-over keeping numbers while sealing the old ring.
#include "upcheck/internal/journal.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "check_events.h"
#include "test_names.h"
#include "upcheck/internal/registry.h"
#include "upcheck/internal/segment_setup.h"

namespace upcheck {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// A published segment holding only a journal of `capacity` events.
struct JournalSegment {
  explicit JournalSegment(uint32_t capacity) {
    auto seg = SegmentSetUp::Create({.name = name, .size = 64 * 1024},
                                    Journal::BytesNeeded(capacity) + 64);
    EXPECT_TRUE(seg.ok()) << seg.error();
    segment = std::move(*seg);
    auto j = Journal::Create(*segment, capacity);
    EXPECT_TRUE(j.ok()) << j.error();
    journal.emplace(*j);
    segment->Publish();
  }
  ~JournalSegment() { (void)Segment::Remove(name); }
  std::string name = testing::UniqueSegmentName("journal");
  std::unique_ptr<Segment> segment;
  std::optional<Journal> journal;
};

JournalEvent Numbered(int n) {
  JournalEvent e;
  e.kind = EventKind::kFailure;
  e.upstream = "foo.com";
  e.peer = "127.0.0.1:" + std::to_string(n);
  e.message = "event " + std::to_string(n);
  e.detail = std::string(static_cast<size_t>(n % 97), 'x');  // a length the message implies
  return e;
}

// Whether an event read back is whole: its texts agree with each other as Numbered wrote.
bool Whole(const JournalEvent& e) {
  const std::string n = e.message.substr(e.message.find(' ') + 1);
  return e.peer == "127.0.0.1:" + n && e.detail == std::string(std::stoul(n) % 97, 'x');
}

TEST(Journal, EventsComeBackInOrderWithTheirFields) {
  JournalSegment s(8);
  Journal& j = *s.journal;
  EXPECT_EQ(j.next_seq(), 1u);
  EXPECT_EQ(j.Read(0).events.size(), 0u);
  JournalEvent admin;
  admin.kind = EventKind::kAdmin;
  admin.upstream = "foo.com";
  admin.peer = "[::1]:80";
  admin.backup = true;
  admin.admin = AdminState::kDrain;
  admin.expires_ms = 1800000000000;
  admin.message = "peer [::1]:80 is set to drain";
  admin.detail = "deploy 42";
  EXPECT_EQ(j.Append(Numbered(1)), 1u);
  EXPECT_EQ(j.Append(admin), 2u);
  EXPECT_EQ(j.Append(Numbered(3)), 3u);

  JournalBatch all = j.Read(0);
  ASSERT_EQ(all.events.size(), 3u);
  EXPECT_EQ(all.missed(), 0u);
  EXPECT_EQ(all.next_seq, 4u);
  const JournalEvent& got = all.events[1];
  EXPECT_EQ(got.seq, 2u);
  EXPECT_EQ(got.kind, EventKind::kAdmin);
  EXPECT_EQ(got.upstream, "foo.com");
  EXPECT_EQ(got.peer, "[::1]:80");
  EXPECT_TRUE(got.backup);
  EXPECT_EQ(got.admin, AdminState::kDrain);
  EXPECT_EQ(got.expires_ms, 1800000000000);
  EXPECT_EQ(got.message, "peer [::1]:80 is set to drain");
  EXPECT_EQ(got.detail, "deploy 42");
  EXPECT_EQ(got.pid, getpid());
  EXPECT_GT(got.unix_ms, 0);

  JournalBatch tail = j.Read(3);
  ASSERT_EQ(tail.events.size(), 1u);
  EXPECT_EQ(tail.events[0].seq, 3u);
  EXPECT_EQ(j.Counts()[static_cast<size_t>(EventKind::kFailure)], 2u);
  EXPECT_EQ(j.Counts()[static_cast<size_t>(EventKind::kAdmin)], 1u);
}

TEST(Journal, AReaderBehindTheRingIsToldWhatItMissed) {
  JournalSegment s(8);
  Journal& j = *s.journal;
  for (int n = 1; n <= 20; ++n) j.Append(Numbered(n));
  EXPECT_EQ(j.oldest_seq(), 13u);
  JournalBatch b = j.Read(1);
  EXPECT_EQ(b.missed_from, 1u);
  EXPECT_EQ(b.missed_to, 12u);
  EXPECT_EQ(b.missed(), 12u);
  ASSERT_EQ(b.events.size(), 8u);
  EXPECT_EQ(b.events.front().seq, 13u);
  EXPECT_EQ(b.events.back().seq, 20u);
  // A reader that kept up misses nothing.
  EXPECT_EQ(j.Read(15).missed(), 0u);
}

TEST(Journal, LongTextsAreCutToTheEventNotBeyondIt) {
  JournalSegment s(8);
  JournalEvent e = Numbered(1);
  e.upstream = std::string(300, 'u');
  e.message = std::string(1000, 'm');
  e.detail = std::string(1000, 'd');
  s.journal->Append(e);
  s.journal->Append(Numbered(2));
  JournalBatch b = s.journal->Read(0);
  ASSERT_EQ(b.events.size(), 2u);
  const JournalEvent& got = b.events[0];
  EXPECT_EQ(got.upstream.size(), 128u);
  EXPECT_TRUE(got.upstream.ends_with("..."));
  EXPECT_TRUE(got.message.ends_with("..."));
  EXPECT_TRUE(got.detail.ends_with("..."));
  EXPECT_LE(got.upstream.size() + got.peer.size() + got.message.size() + got.detail.size(),
            Journal::kTextBytes);
  EXPECT_TRUE(Whole(b.events[1]));
}

void StopHere() { raise(SIGSTOP); }

// A writer stopped with its event half written, then killed: readers never see that event,
// and the next writer takes its number, so the numbers have no hole.
TEST(Journal, AWriterKilledMidEventLeavesNoTornEventAndNoHole) {
  JournalSegment s(8);
  Journal& j = *s.journal;
  j.Append(Numbered(1));
  pid_t child = fork();
  if (child == 0) {
    SetJournalMidWriteHookForTesting(&StopHere);
    j.Append(Numbered(2));
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, WUNTRACED), child);
  ASSERT_TRUE(WIFSTOPPED(status));
  JournalBatch during = j.Read(0);
  ASSERT_EQ(during.events.size(), 1u);  // the half-written event is not there
  kill(child, SIGKILL);
  ASSERT_EQ(waitpid(child, &status, 0), child);

  EXPECT_EQ(j.Append(Numbered(2)), 2u);  // the lock was the dead writer's: recovered
  EXPECT_EQ(j.Append(Numbered(3)), 3u);
  JournalBatch after = j.Read(0);
  ASSERT_EQ(after.events.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(after.events[i].seq, i + 1);
    EXPECT_TRUE(Whole(after.events[i])) << after.events[i].message;
  }
}

// Writers killed at random instants, over and over, with readers running: every number
// the ring holds is there, in order, and whole.
TEST(Journal, WritersKilledAtAnyInstantLoseNoNumber) {
  JournalSegment s(1024);
  Journal& j = *s.journal;
  auto spawn = [&](int stem) {
    pid_t pid = fork();
    if (pid == 0) {
      for (int n = stem;; ++n) j.Append(Numbered(n % 100000));
    }
    return pid;
  };
  pid_t writers[2] = {spawn(0), spawn(50000)};
  for (int round = 0; round < 30; ++round) {
    const uint64_t before = j.next_seq();
    const auto deadline = steady_clock::now() + std::chrono::seconds(20);
    while (j.next_seq() < before + 200 && steady_clock::now() < deadline) {
      JournalBatch b = j.Read(j.oldest_seq());
      for (const JournalEvent& e : b.events) ASSERT_TRUE(Whole(e)) << e.message;
    }
    ASSERT_GE(j.next_seq(), before + 200) << "the writers stopped writing";
    pid_t& victim = writers[round % 2];
    kill(victim, SIGKILL);
    waitpid(victim, nullptr, 0);
    victim = spawn(round * 1000);
  }
  for (pid_t pid : writers) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  const JournalBatch b = j.Read(j.oldest_seq());
  ASSERT_EQ(b.missed(), 0u);
  ASSERT_EQ(b.events.size(), 1024u);
  for (size_t i = 0; i < b.events.size(); ++i) {
    EXPECT_EQ(b.events[i].seq, b.events.front().seq + i);
    EXPECT_TRUE(Whole(b.events[i])) << b.events[i].message;
  }
}

TEST(Journal, CarryingOverKeepsNumbersAndSealsTheOld) {
  JournalSegment old_s(8), new_s(8);
  Journal& old_j = *old_s.journal;
  Journal& new_j = *new_s.journal;
  for (int n = 1; n <= 5; ++n) old_j.Append(Numbered(n));
  EXPECT_EQ(new_j.CarryFrom(old_j), 5u);
  EXPECT_TRUE(old_j.sealed());
  EXPECT_FALSE(new_j.sealed());
  EXPECT_EQ(old_j.Append(Numbered(6)), 0u);  // a retiring writer cannot reuse number 6
  EXPECT_EQ(new_j.id(), old_j.id());
  EXPECT_EQ(new_j.Append(Numbered(6)), 6u);
  JournalBatch b = new_j.Read(0);
  ASSERT_EQ(b.events.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(b.events[i].seq, i + 1);
  EXPECT_EQ(new_j.Counts()[static_cast<size_t>(EventKind::kFailure)], 6u);
}

class RegistryJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CheckOptions check;
    check.type = "http";
    specs_ = {{"foo.com", {{"127.0.0.1:1"}, {"127.0.0.1:2"}}, {}, check}};
    auto seg =
        SegmentSetUp::Create({.name = name_, .size = 1 << 20}, Registry::BytesNeeded(specs_, 4));
    ASSERT_TRUE(seg.ok()) << seg.error();
    segment_ = std::move(*seg);
    auto reg = Registry::Create(*segment_, specs_, 4);
    ASSERT_TRUE(reg.ok()) << reg.error();
    registry_.emplace(*reg);
    segment_->Publish();
    ASSERT_NE(registry_->journal(), nullptr);
  }
  void TearDown() override { (void)Segment::Remove(name_); }
  std::vector<JournalEvent> Events() { return registry_->journal()->Read(0).events; }

  std::string name_ = testing::UniqueSegmentName("regj");
  std::vector<RegistryUpstreamSpec> specs_;
  std::unique_ptr<Segment> segment_;
  std::optional<Registry> registry_;
};

TEST_F(RegistryJournalTest, TransitionsAndTheFirstFailureOfAStreakAreJournaled) {
  PeerCheckEvent fail = testing::RefusedConnectEvent();
  fail.transition = HealthTransition::kUnchanged;
  fail.streak = 1;
  registry_->RecordCheck(fail);  // first failure: journaled
  fail.streak = 2;
  registry_->RecordCheck(fail);  // the same streak: not
  fail.streak = 3;
  fail.transition = HealthTransition::kTurnedDown;
  registry_->RecordCheck(fail);
  std::vector<JournalEvent> events = Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, EventKind::kFailure);
  EXPECT_EQ(events[0].detail, "failed to connect to 127.0.0.1:1: connection refused");
  EXPECT_EQ(events[1].kind, EventKind::kDown);
  EXPECT_EQ(events[1].message, "peer 127.0.0.1:1 is turned down after 3 failure(s)");
  EXPECT_EQ(events[1].upstream, "foo.com");
  EXPECT_EQ(events[1].peer, "127.0.0.1:1");

  PeerCheckEvent ok = fail;
  ok.kind = ProbeKind::kOk;
  ok.detail = "";
  ok.streak = 2;
  ok.transition = HealthTransition::kTurnedUp;
  registry_->RecordCheck(ok);
  fail.transition = HealthTransition::kUnchanged;
  registry_->RecordCheck(fail);
  events = Events();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[2].kind, EventKind::kUp);
  EXPECT_EQ(events[2].message, "peer 127.0.0.1:1 is turned up after 2 success(es)");
  EXPECT_EQ(events[3].kind, EventKind::kFailure);  // a new streak after the success
}

TEST_F(RegistryJournalTest, AdminChangesAreJournaledButNotTheirCarryOver) {
  PeerAdmin drain{AdminState::kDrain, "deploy", 1800000000000, 1700000000000};
  ASSERT_TRUE(registry_->SetAdmin(0, false, 1, drain).ok());
  ASSERT_TRUE(registry_->SetAdmin(0, false, 1, PeerAdmin{}).ok());
  EXPECT_FALSE(registry_->SetAdmin(0, false, 1, {AdminState::kDown, std::string(201, 'r')}).ok());
  std::vector<JournalEvent> events = Events();
  ASSERT_EQ(events.size(), 2u);  // the refused one changed nothing
  EXPECT_EQ(events[0].kind, EventKind::kAdmin);
  EXPECT_EQ(events[0].admin, AdminState::kDrain);
  EXPECT_EQ(events[0].detail, "deploy");
  EXPECT_EQ(events[0].expires_ms, 1800000000000);
  EXPECT_EQ(events[0].peer, "127.0.0.1:2");
  EXPECT_EQ(events[0].message, "peer 127.0.0.1:2 is set to drain");
  EXPECT_EQ(events[1].admin, AdminState::kAuto);

  ASSERT_TRUE(registry_->SetAdmin(0, false, 0, drain).ok());
  Registry copy = *registry_;  // the same segment: carrying onto itself adds no event
  const uint64_t next = registry_->journal()->next_seq();
  EXPECT_EQ(registry_->CarryAdminStates(copy, 1700000000000), 1u);
  EXPECT_EQ(registry_->journal()->next_seq(), next);
}

}  // namespace
}  // namespace upcheck
