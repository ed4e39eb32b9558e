// SharedDict semantics (ngx.shared.DICT), on storage in process memory with a stepped clock.
#include "upcheck/shared_dict.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <set>

#include "shm/dict_layout.h"

namespace upcheck {
namespace {

class SharedDictTest : public ::testing::Test {
 protected:
  void Make(size_t bytes) {
    memory_.reset(static_cast<char*>(std::aligned_alloc(64, bytes)));
    std::memset(memory_.get(), 0, bytes);
    auto d = shm::FormatDict(memory_.get(), bytes);
    ASSERT_TRUE(d.ok()) << d.error();
    dict_ = std::make_unique<SharedDict>(*d, [this] { return now_; });
  }
  void SetUp() override { Make(256 * 1024); }
  void TearDown() override {
    if (dict_) {
      Status st = dict_->Verify();
      EXPECT_TRUE(st.ok()) << st.message();
    }
  }

  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> memory_;
  std::unique_ptr<SharedDict> dict_;
  int64_t now_ = 1000;
};

TEST_F(SharedDictTest, GetMissingIsNil) {
  auto r = dict_->Get("nope");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST_F(SharedDictTest, RoundTripsNumbersBooleansStrings) {
  ASSERT_TRUE(dict_->Set("n", DictValue(2.5)).ok());
  ASSERT_TRUE(dict_->Set("b", DictValue(true)).ok());
  ASSERT_TRUE(dict_->Set("f", DictValue(false)).ok());
  std::string long_value(1000, 'x');
  long_value[999] = 'y';
  ASSERT_TRUE(dict_->Set("s", DictValue(long_value)).ok());
  ASSERT_TRUE(dict_->Set("e", DictValue(std::string())).ok());
  EXPECT_EQ(**dict_->Get("n"), DictValue(2.5));
  EXPECT_EQ(**dict_->Get("b"), DictValue(true));
  EXPECT_EQ(**dict_->Get("f"), DictValue(false));
  EXPECT_EQ(**dict_->Get("s"), DictValue(long_value));
  EXPECT_EQ(**dict_->Get("e"), DictValue(std::string()));
}

TEST_F(SharedDictTest, SetOverwritesAcrossTypes) {
  ASSERT_TRUE(dict_->Set("k", DictValue(1.0)).ok());
  ASSERT_TRUE(dict_->Set("k", DictValue(std::string(300, 'a'))).ok());
  EXPECT_EQ(**dict_->Get("k"), DictValue(std::string(300, 'a')));
  ASSERT_TRUE(dict_->Set("k", DictValue(std::string("short"))).ok());
  EXPECT_EQ(**dict_->Get("k"), DictValue(std::string("short")));
  ASSERT_TRUE(dict_->Set("k", DictValue(false)).ok());
  EXPECT_EQ(**dict_->Get("k"), DictValue(false));
  EXPECT_EQ(dict_->Stats().entries, 1u);
}

TEST_F(SharedDictTest, SetNilDeletesAndSucceedsWhenAbsent) {
  ASSERT_TRUE(dict_->Set("k", DictValue(1.0)).ok());
  EXPECT_TRUE(dict_->Set("k", std::nullopt).ok());
  EXPECT_FALSE(dict_->Get("k")->has_value());
  EXPECT_TRUE(dict_->Set("k", std::nullopt).ok());
  EXPECT_TRUE(dict_->Delete("absent").ok());
}

TEST_F(SharedDictTest, AddFailsWithExistsButReplacesExpired) {
  ASSERT_TRUE(dict_->Add("l:foo", DictValue(true), 99).ok());
  auto again = dict_->Add("l:foo", DictValue(true), 99);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status.message(), "exists");
  now_ += 98;
  EXPECT_EQ(dict_->Add("l:foo", DictValue(true), 99).status.message(), "exists");
  now_ += 1;  // expires - now <= 0: expired
  EXPECT_TRUE(dict_->Add("l:foo", DictValue(true), 99).ok());
}

TEST_F(SharedDictTest, IncrErrorsAndInit) {
  auto missing = dict_->Incr("v:foo", 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), "not found");
  ASSERT_TRUE(dict_->Set("s", DictValue(std::string("x"))).ok());
  EXPECT_EQ(dict_->Incr("s", 1).error(), "not a number");
  ASSERT_TRUE(dict_->Set("b", DictValue(true)).ok());
  EXPECT_EQ(dict_->Incr("b", 1).error(), "not a number");
  EXPECT_EQ(*dict_->Incr("fresh", 2, 10.0), 12.0);
  EXPECT_EQ(*dict_->Incr("fresh", 2, 10.0), 14.0);
  ASSERT_TRUE(dict_->Add("v:foo", DictValue(0.0)).ok());
  EXPECT_EQ(*dict_->Incr("v:foo", 1), 1.0);
  EXPECT_EQ(*dict_->Incr("v:foo", -3.5), -2.5);
}

TEST_F(SharedDictTest, IncrKeepsTtl) {
  ASSERT_TRUE(dict_->Set("c", DictValue(1.0), 500).ok());
  now_ += 100;
  EXPECT_EQ(*dict_->Incr("c", 1), 2.0);
  EXPECT_EQ(*dict_->Ttl("c"), 400);
  now_ += 400;
  EXPECT_EQ(dict_->Incr("c", 1).error(), "not found");
}

TEST_F(SharedDictTest, TtlAndExpiry) {
  ASSERT_TRUE(dict_->Set("forever", DictValue(1.0)).ok());
  ASSERT_TRUE(dict_->Set("short", DictValue(1.0), 50).ok());
  EXPECT_EQ(*dict_->Ttl("forever"), 0);
  EXPECT_EQ(*dict_->Ttl("short"), 50);
  EXPECT_EQ(dict_->Ttl("absent").error(), "not found");
  now_ += 49;
  EXPECT_TRUE(dict_->Get("short")->has_value());
  now_ += 1;
  EXPECT_FALSE(dict_->Get("short")->has_value());
  EXPECT_EQ(dict_->Ttl("short").error(), "not found");
  // Invisible at once, reclaimed lazily.
  EXPECT_EQ(dict_->Stats().entries, 2u);
  EXPECT_EQ(dict_->FlushExpired(), 1u);
  EXPECT_EQ(dict_->Stats().entries, 1u);
}

TEST_F(SharedDictTest, SetResetsTtl) {
  ASSERT_TRUE(dict_->Set("k", DictValue(1.0), 50).ok());
  ASSERT_TRUE(dict_->Set("k", DictValue(2.0)).ok());
  now_ += 1000;
  EXPECT_EQ(**dict_->Get("k"), DictValue(2.0));
}

TEST_F(SharedDictTest, FlushAllHidesEverything) {
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(dict_->Set("k" + std::to_string(i), DictValue(1.0)).ok());
  dict_->FlushAll();
  EXPECT_TRUE(dict_->GetKeys(0).empty());
  EXPECT_FALSE(dict_->Get("k3")->has_value());
  EXPECT_EQ(dict_->Incr("k3", 1).error(), "not found");
  EXPECT_TRUE(dict_->Add("k3", DictValue(5.0)).ok());
  // incr and add each reclaimed two expired entries at the LRU tail (k0..k3).
  EXPECT_EQ(dict_->FlushExpired(3), 3u);
  EXPECT_EQ(dict_->FlushExpired(), 3u);
  EXPECT_EQ(dict_->GetKeys(0), std::vector<std::string>{"k3"});
}

TEST_F(SharedDictTest, GetKeysHonoursLimit) {
  for (int i = 0; i < 2000; ++i)
    ASSERT_TRUE(dict_->Set("k" + std::to_string(i), DictValue(1.0)).ok());
  EXPECT_EQ(dict_->GetKeys().size(), 1024u);  // ngx's default
  EXPECT_EQ(dict_->GetKeys(10).size(), 10u);
  EXPECT_EQ(dict_->GetKeys(0).size(), 2000u);
  std::vector<std::string> newest = dict_->GetKeys(2);
  EXPECT_EQ(newest, (std::vector<std::string>{"k1999", "k1998"}));
}

TEST_F(SharedDictTest, KeyLimits) {
  EXPECT_EQ(dict_->Get("").error(), "empty key");
  EXPECT_EQ(dict_->Set("", DictValue(1.0)).status.message(), "empty key");
  EXPECT_EQ(dict_->Add("", DictValue(1.0)).status.message(), "empty key");
  EXPECT_EQ(dict_->Incr("", 1).error(), "empty key");
  EXPECT_EQ(dict_->Delete("").message(), "empty key");
  EXPECT_EQ(dict_->Ttl("").error(), "empty key");
  std::string max_key(65535, 'k');
  std::string too_long(65536, 'k');
  EXPECT_EQ(dict_->Set(too_long, DictValue(1.0)).status.message(), "key too long");
  EXPECT_EQ(dict_->Get(too_long).error(), "key too long");
  ASSERT_TRUE(dict_->Set(max_key, DictValue(7.0)).ok());
  EXPECT_EQ(**dict_->Get(max_key), DictValue(7.0));
  EXPECT_EQ(dict_->GetKeys(1).front(), max_key);
}

TEST_F(SharedDictTest, NanIsRefusedAndNothingChanges) {
  ASSERT_TRUE(dict_->Set("k", DictValue(1.0)).ok());
  EXPECT_EQ(dict_->Set("k", DictValue(std::nan(""))).status.message(), "value is NaN");
  EXPECT_EQ(dict_->Add("n", DictValue(std::nan(""))).status.message(), "value is NaN");
  EXPECT_EQ(dict_->Incr("k", std::nan("")).error(), "value is NaN");
  EXPECT_EQ(**dict_->Get("k"), DictValue(1.0));
  EXPECT_FALSE(dict_->Get("n")->has_value());
}

TEST_F(SharedDictTest, ValueThatCannotFitIsNoMemoryAndEvictsNothing) {
  Make(64 * 1024);
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(dict_->Set("k" + std::to_string(i), DictValue(1.0)).ok());
  DictStats before = dict_->Stats();
  auto r = dict_->Set("big", DictValue(std::string(before.capacity_bytes * 2, 'x')));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status.message(), "no memory");
  EXPECT_FALSE(r.forcible);
  EXPECT_EQ(dict_->Stats().entries, 50u);
  EXPECT_EQ(**dict_->Get("k0"), DictValue(1.0));
}

TEST_F(SharedDictTest, FullDictEvictsLeastRecentlyUsedAndSaysForcible) {
  Make(64 * 1024);
  size_t chunks = dict_->Stats().chunks;
  for (size_t i = 0; i < chunks; ++i) {
    auto r = dict_->Set("k" + std::to_string(i), DictValue(1.0));
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r.forcible) << i;
  }
  EXPECT_EQ(dict_->FreeSpace(), 0u);
  ASSERT_TRUE(dict_->Get("k0")->has_value());  // k0 becomes most recent; k1 is now LRU
  auto r = dict_->Set("new", DictValue(1.0));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.forcible);
  EXPECT_FALSE(dict_->Get("k1")->has_value());
  EXPECT_TRUE(dict_->Get("k0")->has_value());
  EXPECT_TRUE(dict_->Get("k2")->has_value());
  // Incr, set, add all count as use.
  ASSERT_TRUE(dict_->Incr("k2", 1).ok());
  auto r2 = dict_->Add("new2", DictValue(1.0));
  EXPECT_TRUE(r2.forcible);
  EXPECT_FALSE(dict_->Get("k3")->has_value());
  EXPECT_TRUE(dict_->Get("k2")->has_value());
}

TEST_F(SharedDictTest, ExpiredTailEntriesGoFirstAndAreNotForcible) {
  Make(64 * 1024);
  size_t chunks = dict_->Stats().chunks;
  ASSERT_TRUE(dict_->Set("old", DictValue(1.0), 10).ok());
  for (size_t i = 1; i < chunks; ++i)
    ASSERT_TRUE(dict_->Set("k" + std::to_string(i), DictValue(1.0)).ok());
  now_ += 10;
  auto r = dict_->Set("new", DictValue(1.0));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.forcible);
  EXPECT_TRUE(dict_->Get("k1")->has_value());
}

TEST_F(SharedDictTest, LargeValueEvictsSeveral) {
  Make(64 * 1024);
  size_t chunks = dict_->Stats().chunks;
  for (size_t i = 0; i < chunks; ++i)
    ASSERT_TRUE(dict_->Set("k" + std::to_string(i), DictValue(1.0)).ok());
  auto r = dict_->Set("big", DictValue(std::string(17 + 56 * 11, 'x')));  // 12 chunks
  ASSERT_TRUE(r.ok()) << r.status.message();
  EXPECT_TRUE(r.forcible);
  for (int i = 0; i < 12; ++i) EXPECT_FALSE(dict_->Get("k" + std::to_string(i))->has_value()) << i;
  EXPECT_TRUE(dict_->Get("k12")->has_value());
}

TEST_F(SharedDictTest, MoreThanThirtyEvictionsIsNoMemory) {
  Make(64 * 1024);
  size_t chunks = dict_->Stats().chunks;
  for (size_t i = 0; i < chunks; ++i)
    ASSERT_TRUE(dict_->Set("k" + std::to_string(i), DictValue(1.0)).ok());
  // Needs 40 chunks; only 30 single-chunk entries may be evicted.
  auto r = dict_->Set("big", DictValue(std::string(20 + 56 * 39 - 3, 'x')));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status.message(), "no memory");
  EXPECT_TRUE(r.forcible);
}

TEST_F(SharedDictTest, OneMebibyteHoldsFiveThousandProtocolKeys) {
  Make(1024 * 1024);
  for (int i = 0; i < 5000; ++i) {
    auto r = dict_->Set("nok:foo.com:p" + std::to_string(i), DictValue(1.0));
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r.forcible) << i;
  }
  EXPECT_EQ(dict_->GetKeys(0).size(), 5000u);
}

TEST_F(SharedDictTest, SnapshotFiltersByPrefix) {
  ASSERT_TRUE(dict_->Set("d:foo:p0", DictValue(true)).ok());
  ASSERT_TRUE(dict_->Set("d:foo:p1", DictValue(true), 300).ok());
  ASSERT_TRUE(dict_->Set("ok:foo:p0", DictValue(3.0)).ok());
  auto snap = dict_->Snapshot("d:");
  ASSERT_EQ(snap.size(), 2u);
  std::set<std::string> keys{snap[0].key, snap[1].key};
  EXPECT_EQ(keys, (std::set<std::string>{"d:foo:p0", "d:foo:p1"}));
  for (const auto& e : snap) EXPECT_EQ(e.ttl_ms, e.key == "d:foo:p1" ? 300 : 0);
}

TEST_F(SharedDictTest, FormatsValuesLikeLua) {
  EXPECT_EQ(FormatDictValue(2.0), "2");
  EXPECT_EQ(FormatDictValue(0.5), "0.5");
  EXPECT_EQ(FormatDictValue(1e20), "1e+20");
  EXPECT_EQ(FormatDictValue(true), "true");
  EXPECT_EQ(FormatDictValue(std::string("x y")), "x y");
}

TEST_F(SharedDictTest, ManyMixedOperationsStayConsistent) {
  Make(64 * 1024);
  uint32_t seed = 12345;
  auto rnd = [&] { return seed = seed * 1103515245u + 12345u, (seed >> 8) & 0xFFFF; };
  for (int i = 0; i < 20000; ++i) {
    std::string key = "k" + std::to_string(rnd() % 300);
    switch (rnd() % 6) {
      case 0:
        dict_->Set(key, DictValue(std::string(rnd() % 200, 'v')), rnd() % 3 * 10);
        break;
      case 1:
        dict_->Set(key, DictValue(1.0));
        break;
      case 2:
        dict_->Add(key, DictValue(true), rnd() % 20);
        break;
      case 3:
        dict_->Incr(key, 1, 0.0);
        break;
      case 4:
        dict_->Delete(key);
        break;
      case 5:
        dict_->Get(key);
        break;
    }
    if (i % 997 == 0) now_ += 7;
    if (i % 1000 == 0) {
      Status st = dict_->Verify();
      ASSERT_TRUE(st.ok()) << st.message();
    }
  }
}

}  // namespace
}  // namespace upcheck
