// ParseSize / FormatSize.
#include <gtest/gtest.h>

#include "upcheck/config.h"

namespace upcheck {
namespace {

TEST(SizeTest, ParsesBytesAndSuffixes) {
  EXPECT_EQ(*ParseSize("0"), 0u);
  EXPECT_EQ(*ParseSize("1000"), 1000u);
  EXPECT_EQ(*ParseSize("64k"), 65536u);
  EXPECT_EQ(*ParseSize("64K"), 65536u);
  EXPECT_EQ(*ParseSize("1m"), 1048576u);
  EXPECT_EQ(*ParseSize("2M"), 2097152u);
}

TEST(SizeTest, RejectsAnythingElse) {
  for (const char* bad :
       {"", "k", "12q", "1.5m", "-1", " 1m", "1m ", "1g", "1kb", "0x10", "9999999999999k"}) {
    const Result<size_t> size = ParseSize(bad);
    ASSERT_FALSE(size.ok()) << bad;
    EXPECT_EQ(size.error(),
              std::string("bad size \"") + bad + "\" (bytes, or a number with k or m suffix)");
  }
}

TEST(SizeTest, FormatsTheShortestSpelling) {
  EXPECT_EQ(FormatSize(0), "0");
  EXPECT_EQ(FormatSize(1000), "1000");
  EXPECT_EQ(FormatSize(1536), "1536");
  EXPECT_EQ(FormatSize(65536), "64k");
  EXPECT_EQ(FormatSize(1048576), "1m");
  EXPECT_EQ(FormatSize(1024u * 1048576), "1024m");
  EXPECT_EQ(FormatSize(1048576 + 1024), "1025k");
}

TEST(SizeTest, FormatThenParseIsIdentity) {
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{1023}, size_t{1024}, size_t{65536},
                       size_t{1048576}, size_t{1048577}, size_t{3} << 30}) {
    EXPECT_EQ(*ParseSize(FormatSize(bytes)), bytes);
  }
}

}  // namespace
}  // namespace upcheck
