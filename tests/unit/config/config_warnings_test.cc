// ParseConfig's warnings: a config the original would run, but not as its author likely
// meant. Each comes back in Config::warnings as "file:line:col: warning: key: message" and
// refuses nothing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "upcheck/config.h"

namespace upcheck {
namespace {

std::vector<std::string> WarningsOf(std::string_view text) {
  Result<Config> config = ParseConfig(text, "upcheck.toml");
  EXPECT_TRUE(config.ok()) << config.error();
  return config.ok() ? config->warnings : std::vector<std::string>{"(refused)"};
}

using Lines = std::vector<std::string>;

constexpr std::string_view kHead = R"([[upstream]]
name = "u"
primary = ["127.0.0.1:80"]
[upstream.check]
type = "http"
http_req = "GET / HTTP/1.0\r\n\r\n"
)";

Lines CheckWarnings(std::string_view lines) {
  return WarningsOf(std::string(kHead) + std::string(lines));
}

TEST(ConfigWarningsTest, CleanConfigHasNone) {
  EXPECT_EQ(CheckWarnings("interval = 2\nfall = 1\nrise = 1\nconcurrency = 1\ntimeout = 1\n"),
            Lines{});
}

TEST(ConfigWarningsTest, NumbersWithTheOriginalsSurprisingMeaning) {
  EXPECT_EQ(
      CheckWarnings("interval = 0\ntimeout = 0\nfall = 0\nrise = -1\nconcurrency = -3\n"
                    "valid_statuses = []\n"),
      (Lines{
          "upcheck.toml:7:12: warning: upstream[0].check.interval: interval 0 is below the "
          "minimum: checks run every 2 ms",
          "upcheck.toml:8:11: warning: upstream[0].check.timeout: timeout 0 means 60000 ms for "
          "each step (nginx's default socket timeouts)",
          "upcheck.toml:9:8: warning: upstream[0].check.fall: fall 0 turns a peer down at its "
          "first failure, as fall = 1 does",
          "upcheck.toml:10:8: warning: upstream[0].check.rise: rise -1 turns a peer up at its "
          "first success, as rise = 1 does",
          "upcheck.toml:11:15: warning: upstream[0].check.concurrency: concurrency -3 probes one "
          "peer at a time, as concurrency = 1 does",
          "upcheck.toml:12:18: warning: upstream[0].check.valid_statuses: an empty list makes "
          "every status invalid: every peer will fail its checks"}));
  EXPECT_EQ(CheckWarnings("interval = -100\n"),
            Lines{"upcheck.toml:7:12: warning: upstream[0].check.interval: interval -100 is below "
                  "the minimum: checks run every 2 ms"});
}

TEST(ConfigWarningsTest, DuplicatePeerInOneList) {
  EXPECT_EQ(WarningsOf(R"([[upstream]]
name = "u"
primary = ["127.0.0.1:80", "[::1]:80", { address = "127.0.0.1:80", down = true }, "[0::1]:80"]
backup = ["127.0.0.1:80"]
)"),
            (Lines{"upcheck.toml:3:40: warning: upstream[0].primary[2]: duplicate peer "
                   "127.0.0.1:80 (also upstream[0].primary[0]): nginx accepts a repeated server, "
                   "and it is checked and picked as two peers",
                   "upcheck.toml:3:83: warning: upstream[0].primary[3]: duplicate peer [::1]:80 "
                   "(also upstream[0].primary[1]): nginx accepts a repeated server, and it is "
                   "checked and picked as two peers"}));
}

TEST(ConfigWarningsTest, EmptyFileAndNoUpstream) {
  EXPECT_EQ(WarningsOf(""),
            Lines{"upcheck.toml: warning: the configuration is empty: no [[upstream]], nothing "
                  "to check"});
  EXPECT_EQ(WarningsOf("# only a comment\n\n"),
            Lines{"upcheck.toml: warning: the configuration is empty: no [[upstream]], nothing "
                  "to check"});
  EXPECT_EQ(WarningsOf("[daemon]\nworkers = 1\n"),
            Lines{"upcheck.toml: warning: no [[upstream]]: nothing to check"});
  EXPECT_EQ(WarningsOf("upstream = []\n"),
            Lines{"upcheck.toml:1:12: warning: upstream: no [[upstream]]: nothing to check"});
}

TEST(ConfigWarningsTest, RequestWithoutItsEmptyLine) {
  const std::string upstream = "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:80\"]\n";
  EXPECT_EQ(
      WarningsOf(upstream + "check = { type = \"http\", http_req = \"GET / HTTP/1.0\\r\\n\" }\n"),
      Lines{"upcheck.toml:4:37: warning: upstream[0].check.http_req: does not end with an "
            "empty line (\"\\r\\n\\r\\n\"): it is sent as written, and a server may wait for "
            "the rest of the request until the timeout"});
}

TEST(ConfigWarningsTest, HttpsWithoutHostVerifiesOnlyTheChain) {
  const std::string upstream = "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:80\"]\n";
  const std::string request = ", http_req = \"GET / HTTP/1.0\\r\\n\\r\\n\"";
  EXPECT_EQ(WarningsOf(upstream + "check = { type = \"https\"" + request + " }\n"),
            Lines{"upcheck.toml:4:18: warning: upstream[0].check.type: https without \"host\": no "
                  "SNI is sent, and the certificate's name is not verified (only its chain)"});
  // Nothing is verified at all, as asked; a host, or plain http, needs no warning.
  EXPECT_EQ(
      WarningsOf(upstream + "check = { type = \"https\", ssl_verify = false" + request + " }\n"),
      Lines{});
  EXPECT_EQ(WarningsOf(upstream + "check = { type = \"https\", host = \"a\"" + request + " }\n"),
            Lines{});
}

TEST(ConfigWarningsTest, ErrorsWinOverWarnings) {
  Result<Config> config = ParseConfig("[daemon]\nworkers = 0\n", "upcheck.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error(), "upcheck.toml:2:11: daemon.workers: workers must be >= 1, got 0");
}

}  // namespace
}  // namespace upcheck
