// Segment creation, opening and the header checks.
#include "upcheck/segment.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/segment_header.h"
#include "test_names.h"

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
  EXPECT_EQ(info.size, 1u << 20);
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
  PokeHeader([](shm::SegmentHeaderShm* h) { h->layout_version = 3; });
  auto opened = Segment::Open(name_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error(), "segment '" + name_ + "' has layout version 3; this build reads " +
                                std::to_string(Segment::kLayoutVersion));
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
  auto s = Segment::Create({.name = name_, .size = 1 << 20, .reserved_bytes = 8192});
  ASSERT_TRUE(s.ok());
  auto area = (*s)->AllocateArea(SegmentArea::kRegistry, 4000);
  ASSERT_TRUE(area.ok()) << area.error();
  static_cast<char*>(*area)[3999] = 'z';
  (*s)->Publish();
  EXPECT_FALSE((*s)->AllocateArea(SegmentArea::kWorkers, 100).ok());
  auto opened = Segment::Open(name_);
  ASSERT_TRUE(opened.ok());
  size_t bytes = 0;
  char* p = static_cast<char*>((*opened)->area(SegmentArea::kRegistry, &bytes));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(bytes, 4000u);
  EXPECT_EQ(p[3999], 'z');
  EXPECT_EQ((*opened)->area(SegmentArea::kWorkers), nullptr);
}

TEST_F(SegmentTest, BadNamesAndSizes) {
  EXPECT_FALSE(Segment::Create({.name = "", .size = 1 << 20}).ok());
  EXPECT_EQ(Segment::Create({.name = "a/b", .size = 1 << 20}).error(),
            "segment name 'a/b' may hold only letters, digits, '_', '-' and '.'");
  EXPECT_NE(Segment::Create({.name = name_, .size = 1000}).error().find("below the minimum"),
            std::string::npos);
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
