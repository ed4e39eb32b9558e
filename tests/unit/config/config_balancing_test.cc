// The balancer keys of an [[upstream]] (DESIGN §10): slow_start and panic_threshold read,
// dumped back, and refused with file:line:col: key: what was wrong.
#include <gtest/gtest.h>

#include <string>

#include "upcheck/config.h"

namespace upcheck {
namespace {

std::string Upstream(std::string_view keys) {
  return "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:80\"]\n" + std::string(keys);
}

std::string ErrorOf(std::string_view keys) {
  const Result<Config> config = ParseConfig(Upstream(keys), "upcheck.toml");
  return config.ok() ? "(no error)" : config.error();
}

TEST(ConfigBalancingTest, ReadsDurationsAndPercent) {
  for (auto [text, ms] :
       {std::pair{"\"30s\"", 30'000}, std::pair{"\"500ms\"", 500}, std::pair{"\"2m\"", 120'000},
        std::pair{"\"1h\"", 3'600'000}, std::pair{"\"0s\"", 0}}) {
    Result<Config> c = ParseConfig(
        Upstream(std::string("slow_start = ") + text + "\npanic_threshold = 50\n"), "upcheck.toml");
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c->upstreams[0].slow_start_ms, ms) << text;
    EXPECT_EQ(c->upstreams[0].panic_threshold, 50);
  }
  Result<Config> off = ParseConfig(Upstream(""), "upcheck.toml");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->upstreams[0].slow_start_ms, 0);
  EXPECT_EQ(off->upstreams[0].panic_threshold, 0);
}

TEST(ConfigBalancingTest, DumpReadsBack) {
  Result<Config> c =
      ParseConfig(Upstream("slow_start = \"1500ms\"\npanic_threshold = 30\n"), "upcheck.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  const std::string dump = DumpConfig(*c);
  EXPECT_NE(dump.find("slow_start = \"1500ms\"\npanic_threshold = 30\n"), std::string::npos);
  Result<Config> again = ParseConfig(dump, "dump.toml");
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->upstreams[0].slow_start_ms, 1500);
  EXPECT_EQ(again->upstreams[0].panic_threshold, 30);
}

TEST(ConfigBalancingTest, BadInputIsNamedAtItsKey) {
  EXPECT_EQ(ErrorOf("panic_threshold = 150\n"),
            "upcheck.toml:4:19: upstream[0].panic_threshold: panic_threshold must be <= 100, "
            "got 150");
  EXPECT_EQ(ErrorOf("panic_threshold = -1\n"),
            "upcheck.toml:4:19: upstream[0].panic_threshold: panic_threshold must be >= 0, got -1");
  EXPECT_EQ(ErrorOf("slow_start = \"30x\"\n"),
            "upcheck.toml:4:14: upstream[0].slow_start: bad duration \"30x\" (a whole number "
            "with ms, s, m or h, e.g. \"30s\")");
  EXPECT_EQ(ErrorOf("slow_start = \"-1s\"\n"),
            "upcheck.toml:4:14: upstream[0].slow_start: bad duration \"-1s\" (a whole number "
            "with ms, s, m or h, e.g. \"30s\")");
  EXPECT_EQ(ErrorOf("slow_start = \"25h\"\n"),
            "upcheck.toml:4:14: upstream[0].slow_start: slow_start must be at most \"24h\", got "
            "\"25h\"");
  EXPECT_EQ(ErrorOf("slow_start = 30\n"),
            "upcheck.toml:4:14: upstream[0].slow_start: expected a duration (a string such as "
            "\"30s\" or \"500ms\"; \"0s\" = off), got integer 30");
}

}  // namespace
}  // namespace upcheck
