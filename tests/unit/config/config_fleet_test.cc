// [fleet] (DESIGN §11): read with its defaults, dumped back, and refused with
// file:line:col: fleet.key: what was wrong.
#include <unistd.h>

#include <climits>
#include <string>

#include <gtest/gtest.h>

#include "upcheck/config.h"

namespace upcheck {
namespace {

std::string WithFleet(std::string_view keys) {
  return "[fleet]\n" + std::string(keys) +
         "\n[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:80\"]\n";
}

std::string ErrorOf(std::string_view keys) {
  const Result<Config> config = ParseConfig(WithFleet(keys), "upcheck.toml");
  return config.ok() ? "(no error)" : config.error();
}

TEST(ConfigFleetTest, AbsentMeansLocal) {
  Result<Config> c =
      ParseConfig("[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:80\"]\n", "upcheck.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_FALSE(c->fleet.has_value());
  EXPECT_EQ(DumpConfig(*c).find("[fleet]"), std::string::npos);
}

TEST(ConfigFleetTest, DefaultsAreTheHostNameThePrefixAnd200Ms) {
  Result<Config> c = ParseConfig(WithFleet("redis = \"127.0.0.1:6379\""), "upcheck.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_TRUE(c->fleet.has_value());
  char host[HOST_NAME_MAX + 1] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  EXPECT_EQ(c->fleet->redis, "127.0.0.1:6379");
  EXPECT_EQ(c->fleet->host_id, host);
  EXPECT_EQ(c->fleet->prefix, "upcheck:");
  EXPECT_EQ(c->fleet->timeout_ms, 200);
  EXPECT_FALSE(c->fleet->password.has_value());
}

TEST(ConfigFleetTest, ReadsEveryKeyAndEveryAddressForm) {
  for (auto [text, canonical] :
       {std::pair{"[0:0::1]:6380", "[::1]:6380"},
        std::pair{"unix:/run/redis/redis.sock", "unix:/run/redis/redis.sock"},
        std::pair{"10.0.0.7:6379", "10.0.0.7:6379"}}) {
    Result<Config> c = ParseConfig(
        WithFleet(std::string("redis = \"") + text +
                  "\"\nhost_id = \"lb-1\"\nprefix = \"hc:\"\ntimeout = 50\npassword = \"s3cret\""),
        "upcheck.toml");
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c->fleet->redis, canonical);
    EXPECT_EQ(c->fleet->host_id, "lb-1");
    EXPECT_EQ(c->fleet->prefix, "hc:");
    EXPECT_EQ(c->fleet->timeout_ms, 50);
    EXPECT_EQ(c->fleet->password, "s3cret");
  }
}

TEST(ConfigFleetTest, DumpReadsBackWithoutThePassword) {
  Result<Config> c = ParseConfig(
      WithFleet("redis = \"[::1]:6379\"\nhost_id = \"lb-2\"\ntimeout = 75\npassword = \"pw\""),
      "upcheck.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  const std::string dump = DumpConfig(*c);
  EXPECT_NE(dump.find("[fleet]\nredis = \"[::1]:6379\"\nhost_id = \"lb-2\"\nprefix = "
                      "\"upcheck:\"\ntimeout = 75\n# password = (set, not shown)\n"),
            std::string::npos)
      << dump;
  EXPECT_EQ(dump.find("\"pw\""), std::string::npos);
  Result<Config> again = ParseConfig(dump, "dump.toml");
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->fleet->redis, "[::1]:6379");
  EXPECT_EQ(again->fleet->timeout_ms, 75);
}

TEST(ConfigFleetTest, BadInputIsNamedAtItsKey) {
  EXPECT_EQ(ErrorOf("host_id = \"a\""), "upcheck.toml:1:1: fleet: missing required key \"redis\"");
  EXPECT_EQ(ErrorOf("redis = \"redis.local:6379\""),
            "upcheck.toml:2:9: fleet.redis: bad redis address \"redis.local:6379\" "
            "(\"IPv4:port\", \"[IPv6]:port\" or \"unix:/path\", e.g. \"127.0.0.1:6379\")");
  EXPECT_EQ(ErrorOf("redis = \"127.0.0.1\""),
            "upcheck.toml:2:9: fleet.redis: bad redis address \"127.0.0.1\" "
            "(\"IPv4:port\", \"[IPv6]:port\" or \"unix:/path\", e.g. \"127.0.0.1:6379\")");
  EXPECT_EQ(ErrorOf("redis = \"127.0.0.1:6379\"\ntimeout = 0"),
            "upcheck.toml:3:11: fleet.timeout: timeout must be >= 1, got 0");
  EXPECT_EQ(ErrorOf("redis = \"127.0.0.1:6379\"\ntimeout = 60001"),
            "upcheck.toml:3:11: fleet.timeout: timeout must be <= 60000, got 60001");
  EXPECT_EQ(ErrorOf("redis = \"127.0.0.1:6379\"\nhost_id = \"lb 1\""),
            "upcheck.toml:3:11: fleet.host_id: bad host_id \"lb 1\" (1 to 255 printable ASCII "
            "characters, without spaces)");
  EXPECT_EQ(ErrorOf("redis = \"127.0.0.1:6379\"\nprefix = \"a b\""),
            "upcheck.toml:3:10: fleet.prefix: bad prefix \"a b\" (up to 64 printable ASCII "
            "characters, without spaces)");
  EXPECT_EQ(ErrorOf("redis = \"127.0.0.1:6379\"\npassword = \"\""),
            "upcheck.toml:3:12: fleet.password: must not be empty (omit the key when Redis asks "
            "for none)");
  EXPECT_EQ(ErrorOf("redis = 6379"),
            "upcheck.toml:2:9: fleet.redis: expected a string, got integer 6379");
}

}  // namespace
}  // namespace upcheck
