// The protocol's key vocabulary: builders, the parser, the down rule and the lock TTL.
#include "upcheck/protocol_keys.h"

#include <gtest/gtest.h>

namespace upcheck {
namespace {

TEST(ProtocolKeysTest, BuildsTheOriginalsKeys) {
  EXPECT_EQ(PeerKey(KeyFamily::kDown, "foo.com", false, 0), "d:foo.com:p0");
  EXPECT_EQ(PeerKey(KeyFamily::kOk, "foo.com", true, 12), "ok:foo.com:b12");
  EXPECT_EQ(PeerKey(KeyFamily::kNok, "a:b", false, 3), "nok:a:b:p3");
  EXPECT_EQ(VersionKey("foo.com"), "v:foo.com");
  EXPECT_EQ(LockKey("foo.com"), "l:foo.com");
  EXPECT_EQ(KeyPrefix(KeyFamily::kDown), "d:");
}

TEST(ProtocolKeysTest, BufferBuildsTheSameKeys) {
  PeerKeyBuffer keys(KeyFamily::kNok, "u", true);
  EXPECT_EQ(keys.For(10), "nok:u:b10");
  EXPECT_EQ(keys.For(2), "nok:u:b2");
  EXPECT_EQ(keys.For(2), PeerKey(KeyFamily::kNok, "u", true, 2));
}

TEST(ProtocolKeysTest, ParsesWhatItBuilds) {
  std::optional<ProtocolKey> k = ParseProtocolKey("ok:a:b:b7");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->family, KeyFamily::kOk);
  EXPECT_EQ(k->upstream, "a:b");
  EXPECT_TRUE(k->backup);
  EXPECT_EQ(k->id, 7u);

  k = ParseProtocolKey("v:x:p1");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->family, KeyFamily::kVersion);
  EXPECT_EQ(k->upstream, "x:p1");
  k = ParseProtocolKey("l:x");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->family, KeyFamily::kLock);
  EXPECT_EQ(k->upstream, "x");
}

TEST(ProtocolKeysTest, RefusesKeysThatAreNotTheProtocols) {
  for (std::string_view key : {"app:x", "d:nocolon", "d:u:", "d:u:p", "d:u:x1", "nok:u:p1x",
                               "ok:u:p-1", "ok:u:p+1", "d:u:p99999999999"}) {
    EXPECT_FALSE(ParseProtocolKey(key).has_value()) << key;
  }
}

TEST(ProtocolKeysTest, AnyValueButFalseIsDown) {
  EXPECT_FALSE(IsDownFlag(std::optional<DictValue>()));
  EXPECT_FALSE(IsDownFlag(DictValue(false)));
  EXPECT_TRUE(IsDownFlag(DictValue(true)));
  EXPECT_TRUE(IsDownFlag(DictValue(0.0)));
  EXPECT_TRUE(IsDownFlag(std::optional<DictValue>(DictValue(std::string()))));
}

TEST(ProtocolKeysTest, LockTtlIsIntervalLessOneMs) {
  EXPECT_EQ(LockTtlMs(1000), 999);
  EXPECT_EQ(LockTtlMs(11), 10);
  EXPECT_EQ(LockTtlMs(2), 1);
  EXPECT_EQ(LockTtlMs(1), 1);
}

// The schedule's due keys are peer keys like the original's, so they move with their peer
// on a reload.
TEST(ProtocolKeysTest, NextKeysArePeerKeys) {
  EXPECT_EQ(PeerKey(KeyFamily::kNext, "foo.com", true, 3), "next:foo.com:b3");
  std::optional<ProtocolKey> k = ParseProtocolKey("next:foo.com:p1");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->family, KeyFamily::kNext);
  EXPECT_EQ(k->upstream, "foo.com");
  EXPECT_EQ(k->id, 1u);
  EXPECT_EQ(ParseProtocolKey("nok:foo.com:p1")->family, KeyFamily::kNok);
}

}  // namespace
}  // namespace upcheck
