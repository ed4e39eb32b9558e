// The per-process upstream view: definition order, peer lists, errors, round-robin picks.
#include "upcheck/upstreams.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace upcheck {
namespace {

// Layout L3 of original-tests.md.
Upstreams L3() {
  Upstreams upstreams;
  EXPECT_TRUE(
      upstreams
          .AddUpstream("foo.com", {{"127.0.0.1:12354"}, {"127.0.0.1:12355"}}, {{"127.0.0.1:12356"}})
          .ok());
  return upstreams;
}

std::string PickName(Upstreams& upstreams, std::string_view u) {
  const std::optional<PeerInfo> peer = upstreams.Pick(u);
  return peer ? peer->name : "none";
}

std::vector<std::string> Names(const std::vector<PeerInfo>& peers) {
  std::vector<std::string> names;
  for (const PeerInfo& peer : peers) names.push_back(peer.name);
  return names;
}

TEST(UpstreamsTest, KeepsDefinitionOrder) {
  Upstreams upstreams;
  EXPECT_TRUE(upstreams.GetUpstreams().empty());
  ASSERT_TRUE(upstreams.AddUpstream("zeta", {{"127.0.0.1:1"}}, {}).ok());
  ASSERT_TRUE(upstreams.AddUpstream("alpha", {{"127.0.0.1:2"}}, {}).ok());
  ASSERT_TRUE(upstreams.AddUpstream("mid", {{"127.0.0.1:3"}}, {}).ok());
  EXPECT_EQ(upstreams.GetUpstreams(), (std::vector<std::string>{"zeta", "alpha", "mid"}));
  EXPECT_EQ(upstreams.upstream_count(), 3u);
  EXPECT_EQ(upstreams.upstream_name(1), "alpha");
}

TEST(UpstreamsTest, ListsPeersWithIdsFlagsAndCanonicalNames) {
  Upstreams upstreams;
  ASSERT_TRUE(upstreams
                  .AddUpstream("foo.com",
                               {{"127.0.0.1:12354"}, {"[::1]:12355", true}, {"unix:/run/a.sock"}},
                               {{"[0:0::1]:12356"}})
                  .ok());
  const Result<std::vector<PeerInfo>> primary = upstreams.GetPrimaryPeers("foo.com");
  ASSERT_TRUE(primary.ok());
  ASSERT_EQ(primary->size(), 3u);
  EXPECT_EQ(Names(*primary),
            (std::vector<std::string>{"127.0.0.1:12354", "[::1]:12355", "unix:/run/a.sock"}));
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*primary)[i].id, i);
    EXPECT_FALSE((*primary)[i].backup);
    EXPECT_EQ((*primary)[i].down, i == 1);
  }
  EXPECT_EQ((*primary)[1].address, (PeerAddress{PeerAddress::Family::kIpv6, "::1", 12355}));
  EXPECT_EQ((*primary)[2].address, (PeerAddress{PeerAddress::Family::kUnix, "/run/a.sock", 0}));

  const Result<std::vector<PeerInfo>> backup = upstreams.GetBackupPeers("foo.com");
  ASSERT_TRUE(backup.ok());
  ASSERT_EQ(backup->size(), 1u);
  EXPECT_EQ((*backup)[0].name, "[::1]:12356");
  EXPECT_EQ((*backup)[0].id, 0u);
  EXPECT_TRUE((*backup)[0].backup);
  EXPECT_FALSE((*backup)[0].down);
}

TEST(UpstreamsTest, NoBackupsIsAnEmptyList) {
  Upstreams upstreams;
  ASSERT_TRUE(upstreams.AddUpstream("foo.com", {{"127.0.0.1:1"}}, {}).ok());
  const Result<std::vector<PeerInfo>> backup = upstreams.GetBackupPeers("foo.com");
  ASSERT_TRUE(backup.ok());
  EXPECT_TRUE(backup->empty());
}

TEST(UpstreamsTest, UnknownUpstreamIsNotFound) {
  Upstreams upstreams = L3();
  EXPECT_EQ(upstreams.GetPrimaryPeers("bar.com").error(), "upstream not found");
  EXPECT_EQ(upstreams.GetBackupPeers("bar.com").error(), "upstream not found");
  EXPECT_EQ(upstreams.SetPeerDown("bar.com", false, 0, true).message(), "upstream not found");
  EXPECT_EQ(upstreams.Pick("bar.com"), std::nullopt);
  EXPECT_EQ(upstreams.CheckerCount("bar.com"), 0);
}

TEST(UpstreamsTest, AddUpstreamErrors) {
  Upstreams upstreams = L3();
  EXPECT_EQ(upstreams.AddUpstream("foo.com", {{"127.0.0.1:1"}}, {}).message(),
            "duplicate upstream \"foo.com\"");
  EXPECT_EQ(upstreams.AddUpstream("", {{"127.0.0.1:1"}}, {}).message(), "empty upstream name");
  EXPECT_EQ(upstreams.AddUpstream("bar.com", {}, {{"127.0.0.1:1"}}).message(),
            "upstream \"bar.com\" has no primary peers");
  EXPECT_EQ(upstreams.AddUpstream("bar.com", {{"127.0.0.1:1"}, {"x"}}, {}).message(),
            "upstream \"bar.com\": bad peer address \"x\" (expected IPv4:port, [IPv6]:port or "
            "unix:/path)");
  EXPECT_EQ(upstreams.AddUpstream("bar.com", {{"127.0.0.1:1"}}, {{"example.com:80"}}).message(),
            "upstream \"bar.com\": bad peer address \"example.com:80\" (host names are not "
            "resolved; use an IPv4 or [IPv6] address)");
  // Failed adds left nothing behind.
  EXPECT_EQ(upstreams.GetUpstreams(), (std::vector<std::string>{"foo.com"}));
  EXPECT_TRUE(upstreams.AddUpstream("bar.com", {{"127.0.0.1:1"}}, {}).ok());
}

TEST(UpstreamsTest, SetPeerDownErrors) {
  Upstreams upstreams = L3();
  ASSERT_TRUE(upstreams.AddUpstream("nobackup", {{"127.0.0.1:1"}}, {}).ok());
  EXPECT_EQ(upstreams.SetPeerDown("nobackup", true, 0, true).message(), "no backup peers");
  EXPECT_EQ(upstreams.SetPeerDown("foo.com", false, 2, true).message(), "bad peer id");
  EXPECT_EQ(upstreams.SetPeerDown("foo.com", true, 1, true).message(), "bad peer id");
  EXPECT_EQ(upstreams.SetPeerDown("foo.com", false, UINT32_MAX, true).message(), "bad peer id");
}

TEST(UpstreamsTest, SetPeerDownChangesOnlyThatPeer) {
  Upstreams upstreams = L3();
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", false, 1, true).ok());
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", true, 0, true).ok());
  EXPECT_FALSE(upstreams.GetPrimaryPeers("foo.com")->at(0).down);
  EXPECT_TRUE(upstreams.GetPrimaryPeers("foo.com")->at(1).down);
  EXPECT_TRUE(upstreams.GetBackupPeers("foo.com")->at(0).down);
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", false, 1, false).ok());
  EXPECT_FALSE(upstreams.GetPrimaryPeers("foo.com")->at(1).down);
}

TEST(UpstreamsTest, FreshViewPicksP0ThenP1) {
  // S-1: two primaries up; nginx's smooth weighted RR with equal weights.
  Upstreams upstreams = L3();
  EXPECT_EQ(PickName(upstreams, "foo.com"), "127.0.0.1:12354");
  EXPECT_EQ(PickName(upstreams, "foo.com"), "127.0.0.1:12355");
  EXPECT_EQ(PickName(upstreams, "foo.com"), "127.0.0.1:12354");
}

TEST(UpstreamsTest, PickSkipsDownPrimaries) {
  // S-3: p1 down; both picks go to p0.
  Upstreams upstreams = L3();
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", false, 1, true).ok());
  EXPECT_EQ(PickName(upstreams, "foo.com"), "127.0.0.1:12354");
  EXPECT_EQ(PickName(upstreams, "foo.com"), "127.0.0.1:12354");
}

TEST(UpstreamsTest, PickHonoursConfiguredDown) {
  Upstreams upstreams;
  ASSERT_TRUE(upstreams
                  .AddUpstream("foo.com", {{"127.0.0.1:12354", true}, {"127.0.0.1:12355"}},
                               {{"127.0.0.1:12356"}})
                  .ok());
  EXPECT_EQ(PickName(upstreams, "foo.com"), "127.0.0.1:12355");
  EXPECT_EQ(PickName(upstreams, "foo.com"), "127.0.0.1:12355");
}

TEST(UpstreamsTest, PickFallsBackToBackupsThenNothing) {
  Upstreams upstreams;
  ASSERT_TRUE(upstreams
                  .AddUpstream("foo.com", {{"127.0.0.1:1"}, {"127.0.0.1:2"}},
                               {{"127.0.0.1:3"}, {"127.0.0.1:4"}})
                  .ok());
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", false, 0, true).ok());
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", false, 1, true).ok());
  const std::optional<PeerInfo> first = upstreams.Pick("foo.com");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->name, "127.0.0.1:3");
  EXPECT_TRUE(first->backup);
  EXPECT_EQ(first->id, 0u);
  EXPECT_EQ(PickName(upstreams, "foo.com"), "127.0.0.1:4");
  EXPECT_EQ(PickName(upstreams, "foo.com"), "127.0.0.1:3");

  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", true, 0, true).ok());
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", true, 1, true).ok());
  EXPECT_EQ(upstreams.Pick("foo.com"), std::nullopt);

  // A primary coming back wins over the backups at once.
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", true, 1, false).ok());
  ASSERT_TRUE(upstreams.SetPeerDown("foo.com", false, 1, false).ok());
  EXPECT_EQ(PickName(upstreams, "foo.com"), "127.0.0.1:2");
  EXPECT_EQ(PickName(upstreams, "foo.com"), "127.0.0.1:2");
}

TEST(UpstreamsTest, AllDownWithoutBackupsPicksNothing) {
  Upstreams upstreams;
  ASSERT_TRUE(upstreams.AddUpstream("foo.com", {{"127.0.0.1:1", true}}, {}).ok());
  EXPECT_EQ(upstreams.Pick("foo.com"), std::nullopt);
}

TEST(UpstreamsTest, CursorResumesAfterTheLastPickWhenPeersChange) {
  Upstreams upstreams;
  ASSERT_TRUE(upstreams
                  .AddUpstream(
                      "u", {{"127.0.0.1:1"}, {"127.0.0.1:2"}, {"127.0.0.1:3"}, {"127.0.0.1:4"}}, {})
                  .ok());
  EXPECT_EQ(PickName(upstreams, "u"), "127.0.0.1:1");
  EXPECT_EQ(PickName(upstreams, "u"), "127.0.0.1:2");
  ASSERT_TRUE(upstreams.SetPeerDown("u", false, 2, true).ok());
  EXPECT_EQ(PickName(upstreams, "u"), "127.0.0.1:4");
  ASSERT_TRUE(upstreams.SetPeerDown("u", false, 2, false).ok());
  EXPECT_EQ(PickName(upstreams, "u"), "127.0.0.1:1");
  EXPECT_EQ(PickName(upstreams, "u"), "127.0.0.1:2");
  EXPECT_EQ(PickName(upstreams, "u"), "127.0.0.1:3");
  // Setting the same flag again changes nothing.
  ASSERT_TRUE(upstreams.SetPeerDown("u", false, 0, false).ok());
  EXPECT_EQ(PickName(upstreams, "u"), "127.0.0.1:4");
}

TEST(UpstreamsTest, PickIsFairOverManyPeers) {
  constexpr int kPeers = 10000;
  std::vector<PeerConfig> primary;
  for (int i = 0; i < kPeers; ++i) {
    primary.push_back({"10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":80"});
  }
  Upstreams upstreams;
  ASSERT_TRUE(upstreams.AddUpstream("big", std::move(primary), {}).ok());
  for (uint32_t id = 0; id < kPeers; id += 2) {
    ASSERT_TRUE(upstreams.SetPeerDown("big", false, id, true).ok());
  }
  std::vector<int> hits(kPeers);
  for (int i = 0; i < 3 * kPeers / 2; ++i) {
    const std::optional<PeerInfo> peer = upstreams.Pick("big");
    ASSERT_TRUE(peer.has_value());
    ++hits[peer->id];
  }
  for (int id = 0; id < kPeers; ++id) EXPECT_EQ(hits[id], id % 2 == 0 ? 0 : 3) << id;
}

TEST(UpstreamsTest, CheckerCounts) {
  Upstreams upstreams = L3();
  EXPECT_EQ(upstreams.CheckerCount("foo.com"), 0);
  upstreams.AddChecker("foo.com", 1);
  upstreams.AddChecker("foo.com", 1);
  EXPECT_EQ(upstreams.CheckerCount("foo.com"), 2);
  EXPECT_EQ(upstreams.checker_count(0), 2);
  upstreams.AddChecker("foo.com", -1);
  EXPECT_EQ(upstreams.CheckerCount("foo.com"), 1);
  upstreams.AddChecker("nope", 1);  // ignored
  EXPECT_EQ(upstreams.CheckerCount("nope"), 0);
}

TEST(UpstreamsTest, PickRunsTheBeforeReadHookFirst) {
  Upstreams upstreams = L3();
  int calls = 0;
  upstreams.SetBeforeReadHook([&] {
    ++calls;
    // Like a sync from shm: p0 went down elsewhere.
    EXPECT_TRUE(upstreams.SetPeerDown("foo.com", false, 0, true).ok());
  });
  EXPECT_EQ(PickName(upstreams, "foo.com"), "127.0.0.1:12355");
  EXPECT_EQ(calls, 1);
  upstreams.RunBeforeReadHook();
  EXPECT_EQ(calls, 2);
  // Reading the lists does not run it.
  EXPECT_TRUE(upstreams.GetPrimaryPeers("foo.com").ok());
  EXPECT_EQ(calls, 2);
  upstreams.SetBeforeReadHook(nullptr);
  EXPECT_EQ(PickName(upstreams, "foo.com"), "127.0.0.1:12355");
  EXPECT_EQ(calls, 2);
}

TEST(UpstreamsTest, ZeroCopyAccessors) {
  Upstreams upstreams = L3();
  ASSERT_EQ(upstreams.primary_peers(0).size(), 2u);
  EXPECT_EQ(upstreams.primary_peers(0)[1].name, "127.0.0.1:12355");
  ASSERT_EQ(upstreams.backup_peers(0).size(), 1u);
  EXPECT_TRUE(upstreams.backup_peers(0)[0].backup);
}

TEST(UpstreamsTest, IsMovable) {
  Upstreams upstreams = L3();
  Upstreams moved = std::move(upstreams);
  EXPECT_EQ(PickName(moved, "foo.com"), "127.0.0.1:12354");
  Upstreams assigned;
  assigned = std::move(moved);
  EXPECT_EQ(PickName(assigned, "foo.com"), "127.0.0.1:12355");
}

// The admin state overrides the checks for picks only; the down flag stays the checks'.
TEST(UpstreamsTest, AdminStateOverridesTheChecksForPicks) {
  Upstreams u = L3();
  std::vector<std::string> changes;
  u.SetPeerChangeHook([&](size_t, bool backup, uint32_t id, bool down) {
    changes.push_back((backup ? "b" : "p") + std::to_string(id) + (down ? " down" : " up"));
  });
  ASSERT_TRUE(u.SetPeerAdmin(0, false, 0, AdminState::kDrain).ok());
  EXPECT_EQ(PickName(u, "foo.com"), "127.0.0.1:12355");
  EXPECT_EQ(PickName(u, "foo.com"), "127.0.0.1:12355");
  EXPECT_FALSE(u.primary_peers(0)[0].down);  // the checks' verdict, as the pages show it
  ASSERT_TRUE(u.SetPeerAdmin(0, false, 1, AdminState::kDown).ok());
  EXPECT_EQ(PickName(u, "foo.com"), "127.0.0.1:12356");  // the backup
  ASSERT_TRUE(u.SetPeerDown("foo.com", true, 0, true).ok());
  EXPECT_EQ(PickName(u, "foo.com"), "none");
  ASSERT_TRUE(u.SetPeerAdmin(0, true, 0, AdminState::kUp).ok());  // picked though down
  EXPECT_EQ(PickName(u, "foo.com"), "127.0.0.1:12356");
  ASSERT_TRUE(u.SetPeerAdmin(0, false, 0, AdminState::kAuto).ok());
  EXPECT_EQ(PickName(u, "foo.com"), "127.0.0.1:12354");
  // A change of admin state that leaves the pick as it was tells the host nothing.
  ASSERT_TRUE(u.SetPeerAdmin(0, false, 1, AdminState::kDrain).ok());
  EXPECT_EQ(changes, (std::vector<std::string>{"p0 down", "p1 down", "b0 down", "b0 up", "p0 up"}));
  EXPECT_EQ(u.SetPeerAdmin(1, false, 0, AdminState::kUp).message(), "bad upstream index");
  EXPECT_EQ(u.SetPeerAdmin(0, false, 2, AdminState::kUp).message(), "bad peer id");
}

TEST(UpstreamsTest, AdminStateNames) {
  for (AdminState s : {AdminState::kAuto, AdminState::kUp, AdminState::kDown, AdminState::kDrain}) {
    EXPECT_EQ(ParseAdminState(AdminStateName(s)), s);
  }
  EXPECT_EQ(AdminStateName(AdminState::kDrain), "drain");
  EXPECT_FALSE(ParseAdminState("maint"));
}

}  // namespace
}  // namespace upcheck
