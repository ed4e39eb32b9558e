// Registry: written at set-up by the creator, read by any process attached by name.
#include "upcheck/internal/registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "check_events.h"
#include "probe/probe_result.h"
#include "test_names.h"

namespace upcheck {
namespace {

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CheckOptions check;
    check.type = "http";
    check.http_req = "GET / HTTP/1.0\r\n\r\n";
    check.interval_ms = 2000;
    specs_ = {{"foo.com", {{"127.0.0.1:1"}, {"[0:0::1]:2", true}}, {{"unix:/tmp/x.sock"}}, check},
              {"bar.com", {{"127.0.0.1:3"}}, {}, std::nullopt}};
    size_t reserved = Registry::BytesNeeded(specs_, 4);
    ASSERT_GT(reserved, 0u);
    auto seg = SegmentSetUp::Create({.name = name_, .size = 1 << 20}, reserved);
    ASSERT_TRUE(seg.ok()) << seg.error();
    segment_ = std::move(*seg);
    auto reg = Registry::Create(*segment_, specs_, 4);
    ASSERT_TRUE(reg.ok()) << reg.error();
    segment_->Publish();
  }
  void TearDown() override { (void)Segment::Remove(name_); }

  std::string name_ = testing::UniqueSegmentName("reg");
  std::vector<RegistryUpstreamSpec> specs_;
  std::unique_ptr<Segment> segment_;
};

TEST_F(RegistryTest, ReadersSeeUpstreamsPeersAndRoles) {
  auto opened = Segment::Open(name_);
  ASSERT_TRUE(opened.ok());
  auto reg = Registry::Attach(**opened);
  ASSERT_TRUE(reg.ok()) << reg.error();
  ASSERT_EQ(reg->upstream_count(), 2u);
  EXPECT_EQ(reg->upstream_name(0), "foo.com");
  EXPECT_TRUE(reg->has_check(0));
  EXPECT_FALSE(reg->has_check(1));
  EXPECT_NE(reg->check_json(0).find("\"interval\":2000"), std::string::npos);
  ASSERT_EQ(reg->peer_count(0), 3u);
  EXPECT_EQ(reg->peer(0, 1).name, "[::1]:2");  // canonical
  EXPECT_TRUE(reg->peer(0, 1).configured_down);
  EXPECT_TRUE(reg->peer(0, 2).backup);
  EXPECT_EQ(reg->peer(0, 2).id, 0u);
  EXPECT_EQ(reg->FindUpstream("bar.com"), 1u);
  EXPECT_FALSE(reg->FindUpstream("nope"));
  auto view = reg->BuildUpstreams();
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->GetUpstreams(), (std::vector<std::string>{"foo.com", "bar.com"}));
  EXPECT_TRUE((*view->GetPrimaryPeers("foo.com"))[1].down);
}

TEST_F(RegistryTest, DetailsRecordTheLastCheck) {
  auto reg = Registry::Attach(*segment_);
  ASSERT_TRUE(reg.ok());
  EXPECT_EQ(reg->details(0, false, 0).last_result, "");
  PeerCheckEvent e = testing::RefusedConnectEvent();
  reg->RecordCheck(e);
  PeerDetails d = reg->details(0, false, 0);
  EXPECT_EQ(d.checks, 1u);
  EXPECT_EQ(d.failures, 1u);
  EXPECT_EQ(d.turned_down, 1u);
  EXPECT_EQ(d.last_result, "connect");
  EXPECT_EQ(d.last_error, "failed to connect to 127.0.0.1:1: connection refused");
  EXPECT_EQ(d.last_check_ms, 1700000000123);
  EXPECT_EQ(d.last_change_ms, 1700000000123);
  EXPECT_DOUBLE_EQ(d.last_duration_ms, 0.25);
  e.kind = ProbeKind::kOk;
  e.detail = "";
  e.transition = HealthTransition::kUnchanged;
  reg->RecordCheck(e);
  d = reg->details(0, false, 0);
  EXPECT_EQ(d.checks, 2u);
  EXPECT_EQ(d.failures, 1u);
  EXPECT_EQ(d.last_result, "ok");
  EXPECT_EQ(d.last_error, "");
  // A backup peer has its own record.
  e.backup = true;
  e.kind = ProbeKind::kReceive;
  e.timed_out = true;
  e.detail = "timeout";
  reg->RecordCheck(e);
  EXPECT_EQ(reg->details(0, true, 0).last_result, "timeout");
  EXPECT_EQ(reg->details(0, true, 0).last_error,
            "failed to receive status line from unix:/tmp/x.sock: timeout");
}

// Each failed check is also counted under its last_result name: the counts add up to
// failures, two kinds that share a name ("receive") share a count, and "timeout" is counted
// whichever step timed out.
TEST_F(RegistryTest, FailuresAreCountedByResult) {
  auto reg = Registry::Attach(*segment_);
  ASSERT_TRUE(reg.ok());
  EXPECT_EQ(reg->details(0, false, 0).failures_by_result, FailureCounts{});
  PeerCheckEvent e = testing::RefusedConnectEvent();
  e.transition = HealthTransition::kUnchanged;
  auto record = [&](ProbeKind kind, bool timed_out = false) {
    e.kind = kind;
    e.timed_out = timed_out;
    reg->RecordCheck(e);
  };
  record(ProbeKind::kConnect);
  record(ProbeKind::kConnect, /*timed_out=*/true);
  record(ProbeKind::kReceive, /*timed_out=*/true);
  record(ProbeKind::kReceive);
  record(ProbeKind::kReceiveResponse);
  record(ProbeKind::kStatusCode);
  record(ProbeKind::kStatusCode);
  record(ProbeKind::kHeader);
  record(ProbeKind::kBody);
  record(ProbeKind::kOk);
  FailureCounts want{};
  want[FailureResultIndex("connect")] = 1;
  want[FailureResultIndex("timeout")] = 2;
  want[FailureResultIndex("receive")] = 2;
  want[FailureResultIndex("status_code")] = 2;
  want[FailureResultIndex("header")] = 1;
  want[FailureResultIndex("body")] = 1;
  const PeerDetails d = reg->details(0, false, 0);
  EXPECT_EQ(d.failures_by_result, want);
  EXPECT_EQ(d.checks, 10u);
  EXPECT_EQ(d.failures, 9u);
  uint64_t sum = 0;
  for (uint64_t count : d.failures_by_result) sum += count;
  EXPECT_EQ(sum, d.failures);
  EXPECT_EQ(reg->details(0, true, 0).failures_by_result, FailureCounts{});  // its own record
}

// Every failure a checker reports has a counter: a ProbeKind added without a name in
// kFailureResults would count in failures but under no result.
TEST(FailureResults, EveryCountedFailureHasASlot) {
  for (uint8_t k = 1; k <= static_cast<uint8_t>(ProbeKind::kReceiveResponse); ++k) {
    ProbeResult probe;
    probe.kind = static_cast<ProbeKind>(k);
    if (!probe.counted()) continue;
    for (bool timed_out : {false, true}) {
      EXPECT_LT(FailureResultIndex(ProbeResultName(probe.kind, timed_out)), kFailureResults.size())
          << ProbeResultName(probe.kind, timed_out);
    }
  }
  EXPECT_EQ(FailureResultIndex("ok"), kFailureResults.size());
}

// A segment of another registry layout (the last byte of the magic) is refused by name, so
// that a tool older or newer than the daemon says what is wrong rather than misreading it.
TEST_F(RegistryTest, AnotherLayoutIsRefusedWithBothVersions) {
  auto* magic = static_cast<uint64_t*>(SegmentSetUp::Area(*segment_, SegmentArea::kRegistry));
  ASSERT_NE(magic, nullptr);
  const uint64_t mine = *magic;
  *magic = (mine & ~uint64_t{0xff}) | '4';
  auto reg = Registry::Attach(*segment_);
  ASSERT_FALSE(reg.ok());
  EXPECT_EQ(reg.error(), "segment '" + name_ +
                             "' has a registry of layout 4, this program reads layout " +
                             std::string(1, static_cast<char>(mine & 0xff)) +
                             ": use the upcheck tools of the version that created it");
  *magic = mine;
  EXPECT_TRUE(Registry::Attach(*segment_).ok());
}

TEST_F(RegistryTest, AdminStateIsReadBackUntilItExpires) {
  auto reg = Registry::Attach(*segment_);
  ASSERT_TRUE(reg.ok());
  EXPECT_EQ(reg->admin(0, false, 0, 1000).state, AdminState::kAuto);
  const uint64_t seq = reg->admin_seq(0);
  PeerAdmin drain{AdminState::kDrain, "deploy", /*expires_ms=*/5000, /*changed_ms=*/1000};
  ASSERT_TRUE(reg->SetAdmin(0, true, 0, drain).ok());
  EXPECT_GT(reg->admin_seq(0), seq);
  EXPECT_EQ(reg->admin_seq(1), 0u);  // another upstream's pickers read nothing
  PeerAdmin got = reg->admin(0, true, 0, 4999);
  EXPECT_EQ(got.state, AdminState::kDrain);
  EXPECT_EQ(got.reason, "deploy");
  EXPECT_EQ(got.expires_ms, 5000);
  EXPECT_EQ(reg->admin(0, false, 0, 4999).state, AdminState::kAuto);  // another peer
  got = reg->admin(0, true, 0, 5000);  // expired: auto, with nothing else
  EXPECT_EQ(got.state, AdminState::kAuto);
  EXPECT_EQ(got.reason, "");
  EXPECT_EQ(got.expires_ms, 0);
  EXPECT_EQ(got.changed_ms, 1000);

  const uint64_t after = reg->admin_seq(0);
  PeerAdmin too_long{AdminState::kDown, std::string(201, 'x'), 0, 0};
  EXPECT_EQ(reg->SetAdmin(0, false, 0, too_long).message(),
            "reason is 201 bytes, at most 200 are kept");
  EXPECT_EQ(reg->SetAdmin(0, true, 1, drain).message(), "no such peer");
  EXPECT_EQ(reg->admin_seq(0), after);
  EXPECT_EQ(reg->admin(0, false, 0, 0).state, AdminState::kAuto);
  too_long.reason.pop_back();
  ASSERT_TRUE(reg->SetAdmin(0, false, 0, too_long).ok());
  EXPECT_EQ(reg->admin(0, false, 0, 0).reason.size(), 200u);
}

// Two workers may record one peer at the same moment (cycles that overlap when one outlives
// the lock). Every count must survive, and the record must stay readable afterwards: a
// sequence lock taken by load-and-store could end odd for good, and readers then saw an
// empty record (0 checks, no result) for ever.
TEST_F(RegistryTest, ConcurrentWritersLeaveTheRecordReadable) {
  auto reg = Registry::Attach(*segment_);
  ASSERT_TRUE(reg.ok());
  PeerCheckEvent e;
  e.upstream = "foo.com";
  e.id = 0;
  e.peer = "127.0.0.1:1";
  e.kind = ProbeKind::kOk;
  constexpr int kRounds = 10;
  constexpr int kPerThread = 200000;
  for (int round = 1; round <= kRounds; ++round) {
    std::atomic<int> ready{0};
    auto write = [&] {
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      for (int i = 0; i < kPerThread; ++i) reg->RecordCheck(e);
    };
    std::thread a(write), b(write);
    a.join();
    b.join();
    reg->RecordCheck(e);  // one more, alone
    PeerDetails d = reg->details(0, false, 0);
    ASSERT_EQ(d.checks, static_cast<uint64_t>(round) * (2 * kPerThread + 1)) << "round " << round;
    ASSERT_EQ(d.last_result, "ok") << "round " << round;
  }
}

TEST_F(RegistryTest, WorkerTable) {
  auto reg = Registry::Attach(*segment_);
  ASSERT_TRUE(reg.ok());
  EXPECT_TRUE(reg->Workers().empty());
  auto slot = reg->ClaimWorkerSlot(4242);
  ASSERT_TRUE(slot.ok());
  reg->SetWorkerState(*slot, WorkerState::kRunning);
  reg->SetWorkerCheckers(*slot, 1);
  reg->RecordCycle(*slot, CycleEvent{"foo.com", true, false, 3});
  auto rows = reg->Workers();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].pid, 4242);
  EXPECT_EQ(rows[0].state, WorkerState::kRunning);
  EXPECT_EQ(rows[0].checkers, 1u);
  EXPECT_EQ(rows[0].cycles, 1u);
  EXPECT_EQ(rows[0].versions, (std::vector<double>{3, 0}));
  EXPECT_EQ(reg->published_version(0), 0);
  double three = 3;
  uint64_t bits;
  std::memcpy(&bits, &three, sizeof(bits));
  reg->version_hint(0)->store(bits);
  EXPECT_EQ(reg->published_version(0), 3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(reg->ClaimWorkerSlot(100 + i).ok());
  auto full = reg->ClaimWorkerSlot(999);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error(), "the worker table is full (4 slots)");
  reg->ReleaseWorkerSlot(*slot);
  EXPECT_EQ(reg->Workers().size(), 3u);
  EXPECT_TRUE(reg->ClaimWorkerSlot(999).ok());
}

TEST(RegistryAbsent, SegmentWithoutDaemonSaysSo) {
  std::string name = testing::UniqueSegmentName("noreg");
  auto seg = Segment::Create({.name = name, .size = 1 << 20});
  ASSERT_TRUE(seg.ok());
  (*seg)->Publish();
  auto reg = Registry::Attach(**seg);
  ASSERT_FALSE(reg.ok());
  EXPECT_EQ(reg.error(), "segment '" + name + "' has no registry: it was created without a daemon");
  (void)Segment::Remove(name);
}

}  // namespace
}  // namespace upcheck
