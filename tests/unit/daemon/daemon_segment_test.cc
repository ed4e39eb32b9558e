// CarryDictState: what a SIGHUP reload copies from the old segment's dict into the new one,
// by position (the default, as the original's dict survives a HUP) or by peer.
#include "daemon_segment.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "test_names.h"

namespace upcheck::daemon {
namespace {

// A published segment with a registry of `specs` and a dict of `dict_size` bytes.
struct TestSegment {
  TestSegment(const std::vector<RegistryUpstreamSpec>& specs, size_t dict_size = 64 * 1024) {
    auto seg =
        SegmentSetUp::Create({.name = name, .size = dict_size}, Registry::BytesNeeded(specs, 2));
    EXPECT_TRUE(seg.ok()) << seg.error();
    if (!seg.ok()) return;
    segment = std::move(*seg);
    auto reg = Registry::Create(*segment, specs, 2);
    EXPECT_TRUE(reg.ok()) << reg.error();
    if (reg.ok()) registry.emplace(*reg);
    segment->Publish();
  }
  ~TestSegment() { (void)Segment::Remove(name); }
  bool ok() const { return segment != nullptr && registry.has_value(); }
  SharedDict& dict() { return segment->dict(); }

  std::string name = testing::UniqueSegmentName("carry");
  std::unique_ptr<Segment> segment;
  std::optional<Registry> registry;
};

RegistryUpstreamSpec Upstream(std::string name, std::vector<std::string> primary,
                              std::vector<std::string> backup = {}) {
  RegistryUpstreamSpec spec{.name = std::move(name), .primary = {}, .backup = {}, .check = {}};
  for (std::string& a : primary) spec.primary.push_back({std::move(a)});
  for (std::string& a : backup) spec.backup.push_back({std::move(a)});
  return spec;
}

constexpr const char* kA = "127.0.0.1:1";
constexpr const char* kB = "127.0.0.1:2";
constexpr const char* kC = "127.0.0.1:3";
constexpr const char* kD = "127.0.0.1:4";

// key -> printed value, most recently used first (Snapshot's order).
std::vector<std::pair<std::string, std::string>> Contents(SharedDict& dict) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const DictEntry& e : dict.Snapshot()) out.emplace_back(e.key, FormatDictValue(e.value));
  return out;
}

class CarryDictStateTest : public ::testing::Test {
 protected:
  // The old dict: the checkers' keys of `app` (primary A, B, A; backup C) and of an
  // upstream `gone`, a stale key of no peer, a lock and a user's keys.
  void SetUp() override {
    ASSERT_TRUE(old_.ok());
    SharedDict& d = old_.dict();
    for (const auto& [key, value] : std::vector<std::pair<std::string, DictValue>>{
             {"v:app", 3.0},
             {"d:app:p0", true},   // A
             {"nok:app:p0", 4.0},  // A
             {"ok:app:p1", 7.0},   // B
             {"ok:app:p2", 2.0},   // the second A
             {"d:app:b0", true},   // C, a backup
             {"d:app:p9", true},   // no such peer: left by an earlier configuration
             {"v:gone", 1.0},
             {"d:gone:p0", true},
             {"d:fresh:p0", true},  // of an upstream the new configuration adds
             {"d:other:p0", true},  // no upstream of ours: a user's key
             {"user", std::string("kept")}}) {
      ASSERT_TRUE(d.Set(key, value).ok()) << key;
    }
    ASSERT_TRUE(d.Set("l:app", DictValue(true), 5000).ok());
  }

  TestSegment old_{{Upstream("app", {kA, kB, kA}, {kC}), Upstream("gone", {kD})}};
  // Reordered (B first, then both As), C moved from backup to primary, D added, `gone`
  // removed, `fresh` added.
  std::vector<RegistryUpstreamSpec> next_ = {Upstream("app", {kB, kA, kA, kC, kD}),
                                             Upstream("fresh", {kA})};
};

TEST_F(CarryDictStateTest, PositionalCopiesEveryKeyAsItIsInTheSameLruOrder) {
  TestSegment next(next_);
  ASSERT_TRUE(next.ok());
  size_t copied = CarryDictState(old_.dict(), *old_.registry, next.dict(), *next.registry,
                                 ReloadState::kPositional);
  EXPECT_EQ(copied, 13u);
  EXPECT_EQ(Contents(next.dict()), Contents(old_.dict()));
  Result<int64_t> ttl = next.dict().Ttl("l:app");
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(*ttl, 0);
  EXPECT_LE(*ttl, 5000);
}

TEST_F(CarryDictStateTest, ByPeerMovesEachPeersKeysWithItsAddress) {
  TestSegment next(next_);
  ASSERT_TRUE(next.ok());
  CarryDictState(old_.dict(), *old_.registry, next.dict(), *next.registry, ReloadState::kByPeer);
  std::map<std::string, std::string> got;
  for (const auto& [key, value] : Contents(next.dict())) got[key] = value;
  EXPECT_EQ(got, (std::map<std::string, std::string>{
                     {"v:app", "3"},
                     {"d:app:p1", "true"},    // A: was p0, now the first A is p1
                     {"nok:app:p1", "4"},     //
                     {"ok:app:p0", "7"},      // B: was p1
                     {"ok:app:p2", "2"},      // the second A stays the second A
                     {"d:other:p0", "true"},  // not ours
                     {"user", "kept"},
                     {"l:app", "true"},
                 }));
  // Dropped: C's backup flag (C is a primary now), the stale p9, `gone`'s keys and the
  // old `fresh` flag, which no peer of the old configuration owned.
}

// A smaller new dict keeps the most recently used entries.
TEST_F(CarryDictStateTest, ASmallerDictKeepsTheMostRecentlyUsed) {
  SharedDict& d = old_.dict();
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(d.Set("filler:" + std::to_string(i), DictValue(1.0)).ok());
  }
  TestSegment next(next_, Segment::kMinSize);  // 128 chunks
  ASSERT_TRUE(next.ok());
  CarryDictState(d, *old_.registry, next.dict(), *next.registry, ReloadState::kPositional);
  std::vector<std::pair<std::string, std::string>> got = Contents(next.dict());
  ASSERT_EQ(got.size(), 128u);
  std::vector<std::pair<std::string, std::string>> want = Contents(d);
  want.resize(128);
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace upcheck::daemon
