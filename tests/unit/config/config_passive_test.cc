// [upstream.passive] (DESIGN §10): parsed into the check options, refused with a position
// when it cannot mean anything, and written back by DumpConfig.
#include <gtest/gtest.h>

#include <string>

#include "upcheck/config.h"

namespace upcheck {
namespace {

constexpr std::string_view kChecked = R"([[upstream]]
name = "u"
primary = ["127.0.0.1:80"]
[upstream.check]
type = "http"
http_req = "GET / HTTP/1.0\r\n\r\n"
)";

std::string ErrorOf(const std::string& text) {
  const Result<Config> config = ParseConfig(text, "upcheck.toml");
  return config.ok() ? "(no error)" : config.error();
}

TEST(ConfigPassiveTest, ReadsFallAndSkip) {
  Result<Config> c = ParseConfig(
      std::string(kChecked) + "[upstream.passive]\nfall = 3\nskip_active_when_passing = true\n",
      "upcheck.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_TRUE(c->upstreams[0].check->passive);
  EXPECT_EQ(c->upstreams[0].check->passive->fall, 3);
  EXPECT_TRUE(c->upstreams[0].check->passive->skip_active_when_passing);
}

TEST(ConfigPassiveTest, AbsentTableLeavesPassiveOff) {
  Result<Config> c = ParseConfig(std::string(kChecked), "upcheck.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_FALSE(c->upstreams[0].check->passive);
}

TEST(ConfigPassiveTest, RefusesFallBelowOne) {
  EXPECT_EQ(ErrorOf(std::string(kChecked) + "[upstream.passive]\nfall = 0\n"),
            "upcheck.toml:8:8: upstream[0].passive.fall: fall must be >= 1, got 0");
  EXPECT_NE(ErrorOf(std::string(kChecked) + "[upstream.passive]\nfall = -2\n")
                .find("upstream[0].passive.fall: fall must be >= 1, got -2"),
            std::string::npos);
}

TEST(ConfigPassiveTest, RefusesUnknownKeys) {
  const std::string error =
      ErrorOf(std::string(kChecked) + "[upstream.passive]\nfall = 2\nrise = 2\n");
  EXPECT_EQ(error,
            "upcheck.toml:9:1: upstream[0].passive: unknown key \"rise\" (allowed: fall, "
            "skip_active_when_passing)");
}

TEST(ConfigPassiveTest, RefusesPassiveWithoutCheck) {
  const std::string error = ErrorOf(R"([[upstream]]
name = "u"
primary = ["127.0.0.1:80"]
[upstream.passive]
fall = 2
)");
  EXPECT_NE(error.find("upcheck.toml:4:1: upstream[0].passive: passive checks need "
                       "[upstream.check]"),
            std::string::npos)
      << error;
}

TEST(ConfigPassiveTest, DumpRoundTrips) {
  Result<Config> c =
      ParseConfig(std::string(kChecked) + "[upstream.passive]\nfall = 4\n", "upcheck.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  const std::string dumped = DumpConfig(*c);
  EXPECT_NE(dumped.find("\n[upstream.passive]\nfall = 4\nskip_active_when_passing = false\n"),
            std::string::npos)
      << dumped;
  Result<Config> again = ParseConfig(dumped, "dump.toml");
  ASSERT_TRUE(again.ok()) << again.error();
  ASSERT_TRUE(again->upstreams[0].check->passive);
  EXPECT_EQ(again->upstreams[0].check->passive->fall, 4);
}

}  // namespace
}  // namespace upcheck
