// ParseFleetWords: upcheck_fleet's words to the fleet tier's settings, with [fleet]'s
// defaults and limits, and errors that name the word.
#include "upcheck/fleet_words.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <string>
#include <string_view>
#include <vector>

namespace upcheck {
namespace {

Result<FleetConfig> Parse(std::vector<std::string_view> words) { return ParseFleetWords(words); }

std::string ErrorOf(std::vector<std::string_view> words) {
  Result<FleetConfig> r = Parse(std::move(words));
  return r.ok() ? "(ok)" : r.error();
}

TEST(FleetWordsTest, EveryKey) {
  Result<FleetConfig> f =
      Parse({"redis=127.0.0.1:6379", "host_id=lb-1", "prefix=p:", "timeout=500", "password=a=b"});
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_EQ(f->redis, "127.0.0.1:6379");
  EXPECT_EQ(f->host_id, "lb-1");
  EXPECT_EQ(f->prefix, "p:");
  EXPECT_EQ(f->timeout_ms, 500);
  EXPECT_EQ(f->password, "a=b");  // split at the first '='
}

TEST(FleetWordsTest, DefaultsAreTheFleetTables) {
  Result<FleetConfig> f = Parse({"redis=unix:/run/redis.sock"});
  ASSERT_TRUE(f.ok()) << f.error();
  char host[HOST_NAME_MAX + 1] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  EXPECT_EQ(f->host_id, host);
  EXPECT_EQ(f->prefix, "upcheck:");
  EXPECT_EQ(f->timeout_ms, kDefaultFleetTimeoutMs);
  EXPECT_FALSE(f->password.has_value());
}

TEST(FleetWordsTest, ErrorsNameTheWord) {
  EXPECT_EQ(ErrorOf({}), "redis=ADDRESS is required (e.g. redis=127.0.0.1:6379)");
  EXPECT_EQ(ErrorOf({"redis=x"}),
            "bad redis address \"x\": expected \"IPv4:port\", \"[IPv6]:port\" or "
            "\"unix:/path\", e.g. \"127.0.0.1:6379\"");
  EXPECT_EQ(ErrorOf({"redis=127.0.0.1:1", "timeout=0"}), "timeout must be 1..60000 ms, got \"0\"");
  EXPECT_EQ(ErrorOf({"redis=127.0.0.1:1", "timeout=60001"}),
            "timeout must be 1..60000 ms, got \"60001\"");
  EXPECT_EQ(ErrorOf({"redis=127.0.0.1:1", "timeout=1s"}),
            "timeout must be 1..60000 ms, got \"1s\"");
  EXPECT_EQ(ErrorOf({"redis=127.0.0.1:1", "host_id="}),
            "bad host_id \"\": 1 to 255 printable ASCII characters, without spaces");
  EXPECT_EQ(ErrorOf({"redis=127.0.0.1:1", "prefix=a b"}),
            "bad prefix \"a b\": up to 64 printable ASCII characters, without spaces");
  EXPECT_EQ(ErrorOf({"redis=127.0.0.1:1", "password="}),
            "password must not be empty (leave it out when Redis asks for none)");
  EXPECT_EQ(ErrorOf({"redis=127.0.0.1:1", "tiemout=5"}),
            "unknown option \"tiemout\" (expected redis, host_id, prefix, timeout or password)");
  EXPECT_EQ(ErrorOf({"redis=127.0.0.1:1", "redis=127.0.0.1:2"}), "option \"redis\" given twice");
  EXPECT_EQ(ErrorOf({"redis"}), "expected key=value, got \"redis\"");
}

}  // namespace
}  // namespace upcheck
