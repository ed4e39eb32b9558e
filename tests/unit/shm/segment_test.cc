// Segment creation, opening and the header checks.
#include "upcheck/segment.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/segment_header.h"
#include "test_names.h"
#include "upcheck/internal/segment_setup.h"

namespace upcheck {
namespace {

class SegmentTest : public ::testing::Test {
 protected:
  void TearDown() override { (void)Segment::Remove(name_); }
  // Rewrites one header field in the raw object, as a foreign build or corruption would.
  template <typename F>
  void PokeHeader(F poke) {
    int fd = shm_open(("/" + SegmentObjectName(name_)).c_str(), O_RDWR, 0);
    ASSERT_GE(fd, 0);
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(p, MAP_FAILED);
    poke(static_cast<shm::SegmentHeaderShm*>(p));
    munmap(p, 4096);
    close(fd);
  }
  std::unique_ptr<Segment> CreatePublished() {
    auto s = Segment::Create({.name = name_, .size = 1 << 20});
    EXPECT_TRUE(s.ok()) << s.error();
    (*s)->Publish();
    return std::move(*s);
  }
  std::string name_ = testing::UniqueSegmentName("seg");
};

TEST_F(SegmentTest, CreateThenOpenSharesTheDict) {
  auto created = CreatePublished();
  ASSERT_TRUE(created->dict().Set("v:foo", DictValue(3.0)).ok());
  auto opened = Segment::Open(name_);
  ASSERT_TRUE(opened.ok()) << opened.error();
  EXPECT_EQ(**(*opened)->dict().Get("v:foo"), DictValue(3.0));
  SegmentInfo info = (*opened)->info();
  EXPECT_EQ(info.layout_version, Segment::kLayoutVersion);
  EXPECT_EQ(info.creator_pid, getpid());
  EXPECT_EQ(info.generation, 1u);
  EXPECT_EQ(info.dict_size, 1u << 20);
  EXPECT_EQ(info.size, Segment::SegmentBytes({.name = name_, .size = 1 << 20}));
}

TEST_F(SegmentTest, ObjectIsMode0600) {
  auto created = CreatePublished();
  struct stat st;
  ASSERT_EQ(stat(("/dev/shm/" + SegmentObjectName(name_)).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, geteuid());
}

TEST_F(SegmentTest, CreateRefusesAnExistingOne) {
  auto created = CreatePublished();
  auto again = Segment::Create({.name = name_, .size = 1 << 20});
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("segment '" + name_ + "' already exists"), std::string::npos);
  auto replaced = Segment::Create({.name = name_, .size = 1 << 20, .replace = true});
  EXPECT_TRUE(replaced.ok());
}

TEST_F(SegmentTest, MissingSegmentIsAClearError) {
  auto opened = Segment::Open(name_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error(), "segment '" + name_ + "' not found");
  EXPECT_EQ(Segment::Remove(name_).message(), "segment '" + name_ + "' not found");
}

TEST_F(SegmentTest, WrongLayoutVersionIsRefused) {
  auto created = CreatePublished();
  // An older build's segment (its size was the whole object's), and a newer build's.
  for (uint32_t version : {Segment::kLayoutVersion - 1, Segment::kLayoutVersion + 1}) {
    PokeHeader([&](shm::SegmentHeaderShm* h) { h->layout_version = version; });
    auto opened = Segment::Open(name_);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.error(), "segment '" + name_ + "' has layout version " +
                                  std::to_string(version) + "; this build reads " +
                                  std::to_string(Segment::kLayoutVersion));
  }
}

TEST_F(SegmentTest, BadMagicIsRefused) {
  auto created = CreatePublished();
  PokeHeader([](shm::SegmentHeaderShm* h) { h->magic = 42; });
  auto opened = Segment::Open(name_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error(), "segment '" + name_ + "' is not an upcheck segment (bad magic)");
}

TEST_F(SegmentTest, AreaOutOfBoundsIsRefused) {
  auto created = CreatePublished();
  PokeHeader([](shm::SegmentHeaderShm* h) { h->areas[0].offset = 1ull << 40; });
  auto opened = Segment::Open(name_);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().find("is corrupt"), std::string::npos) << opened.error();
}

TEST_F(SegmentTest, UnpublishedSegmentIsNotReady) {
  auto s = Segment::Create({.name = name_, .size = 1 << 20});
  ASSERT_TRUE(s.ok());
  auto opened = Segment::Open(name_);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().find("is not ready"), std::string::npos);
}

TEST_F(SegmentTest, AreasAreAllocatedAtSetUpOnly) {
  auto s = SegmentSetUp::Create({.name = name_, .size = 1 << 20}, 8192);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(SegmentSetUp::Area(**s, SegmentArea::kRegistry), nullptr);  // none allocated yet
  auto area = SegmentSetUp::AllocateArea(**s, SegmentArea::kRegistry, 4000);
  ASSERT_TRUE(area.ok()) << area.error();
  static_cast<char*>(*area)[3999] = 'z';
  (*s)->Publish();
  EXPECT_FALSE(SegmentSetUp::AllocateArea(**s, SegmentArea::kRegistry, 100).ok());
  auto opened = Segment::Open(name_);
  ASSERT_TRUE(opened.ok());
  size_t bytes = 0;
  char* p = static_cast<char*>(SegmentSetUp::Area(**opened, SegmentArea::kRegistry, &bytes));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(bytes, 4000u);
  EXPECT_EQ(p[3999], 'z');
}

TEST_F(SegmentTest, BadNamesAndSizes) {
  EXPECT_FALSE(Segment::Create({.name = "", .size = 1 << 20}).ok());
  EXPECT_EQ(Segment::Create({.name = "a/b", .size = 1 << 20}).error(),
            "segment name 'a/b' may hold only letters, digits, '_', '-' and '.'");
  EXPECT_NE(Segment::Create({.name = name_, .size = 1000}).error().find("below the minimum"),
            std::string::npos);
}

// shm.size means what lua_shared_dict's size means: the dict's entries get all of it (in
// 64-byte chunks), and the header, the dict's index and the reserved areas come on top.
TEST_F(SegmentTest, SizeIsTheDictsCapacityAndTheRestComesOnTop) {
  struct Case {
    size_t size, reserved;
  };
  for (Case c : {Case{Segment::kMinSize, 0}, Case{64 * 1024, 0}, Case{64 * 1024, 300 * 1024},
                 Case{100000, 5000}, Case{1 << 20, 8192}}) {
    SCOPED_TRACE("size " + std::to_string(c.size) + ", reserved " + std::to_string(c.reserved));
    const Segment::CreateOptions options{.name = name_, .size = c.size};
    auto s = SegmentSetUp::Create(options, c.reserved);
    ASSERT_TRUE(s.ok()) << s.error();
    EXPECT_EQ((*s)->dict().Stats().capacity_bytes, c.size / 64 * 64);
    if (c.reserved > 0) {
      auto area = SegmentSetUp::AllocateArea(**s, SegmentArea::kRegistry, c.reserved);
      ASSERT_TRUE(area.ok()) << area.error();
    }
    (*s)->Publish();
    auto opened = Segment::Open(name_);
    ASSERT_TRUE(opened.ok()) << opened.error();
    const SegmentInfo info = (*opened)->info();
    EXPECT_EQ(info.dict_size, c.size);
    EXPECT_EQ(info.size, SegmentSetUp::SegmentBytes(options, c.reserved));
    EXPECT_GT(info.size, c.size + c.reserved);
    EXPECT_EQ(info.size % 4096, 0u);
    EXPECT_EQ((*opened)->dict().Stats().capacity_bytes, c.size / 64 * 64);
    s->reset();
    opened->reset();
    ASSERT_TRUE(Segment::Remove(name_).ok());
  }
}

TEST_F(SegmentTest, TheSizeBoundsAreNamedInTheErrors) {
  EXPECT_EQ(Segment::Create({.name = name_, .size = Segment::kMinSize - 1}).error(),
            "dict size 8191 is below the minimum of 8192 bytes (8k)");
  EXPECT_EQ(Segment::Create({.name = name_, .size = Segment::kMaxSize + 1}).error(),
            "dict size 1073741825 is above the maximum of 1073741824 bytes (1024m)");
  EXPECT_TRUE(Segment::Create({.name = name_, .size = Segment::kMinSize}).ok());
}

// The original's 64k zone: nginx's slab allocator keeps 15 of its 16 pages, spends one on
// the zone's own small allocations, and gives each entry of up to 60 bytes of key and value
// a 128-byte slot, 32 a page: 14 x 32 slots, one of them the dict's own header, so 447
// entries. Here such an entry takes at most two 64-byte chunks of the 64k: 512 fit. When
// the dict is full, the least recently used entries go first.
TEST_F(SegmentTest, A64kDictHoldsWhatTheOriginals64kZoneHoldsThenEvictsTheOldest) {
  auto s = Segment::Create({.name = name_, .size = 64 * 1024});
  ASSERT_TRUE(s.ok()) << s.error();
  SharedDict& dict = (*s)->dict();
  // "nok:" + 40 + ":p" + 4 digits: 50 bytes of key, and ngx_lua stores a number in 8.
  const std::string upstream(40, 'u');
  auto key = [&](int i) {
    std::string n = std::to_string(i);
    return "nok:" + upstream + ":p" + std::string(4 - n.size(), '0') + n;
  };
  for (int i = 0; i < 447; ++i) {
    DictStoreResult r = dict.Set(key(i), DictValue(1.0));
    ASSERT_TRUE(r.ok()) << i;
    ASSERT_FALSE(r.forcible) << "entry " << i << " evicted another";
  }
  // Twice as many as fit: the oldest go, and only they.
  bool forcible = false;
  for (int i = 447; i < 1024; ++i) forcible = dict.Set(key(i), DictValue(1.0)).forcible || forcible;
  EXPECT_TRUE(forcible);
  int first = -1;
  for (int i = 0; i < 1024; ++i) {
    const bool present = dict.Ttl(key(i)).ok();  // Ttl leaves the LRU order alone
    if (first < 0 && present) first = i;
    EXPECT_EQ(present, first >= 0) << "entry " << i << " is missing, but an older one is not";
  }
  EXPECT_GT(first, 0);
  EXPECT_TRUE(dict.Verify().ok());
}

TEST_F(SegmentTest, OneMebibyteSegmentHoldsFiveThousandProtocolKeys) {
  auto created = CreatePublished();
  for (int i = 0; i < 5000; ++i) {
    auto r = created->dict().Set("nok:foo.com:p" + std::to_string(i), DictValue(1.0));
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r.forcible) << i;
  }
}

}  // namespace
}  // namespace upcheck
