// [upstream.check] with the HTTP keys beyond the original's (DESIGN §9): request,
// expect_status, expect_header, expect_body and body_max, each wrong value reported at
// file:line:key with Spawn's text.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "upcheck/config.h"

namespace upcheck {
namespace {

constexpr std::string_view kUpstream = "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:80\"]\n";

// The check's keys start at line 5.
std::string WithCheck(std::string_view check_lines) {
  return std::string(kUpstream) + "[upstream.check]\n" + std::string(check_lines);
}

std::string CheckErrorOf(std::string_view check_lines) {
  const Result<Config> config = ParseConfig(WithCheck(check_lines), "upcheck.toml");
  return config.ok() ? "(no error)" : config.error();
}

CheckOptions CheckOf(std::string_view check_lines) {
  const Result<Config> config = ParseConfig(WithCheck(check_lines), "upcheck.toml");
  EXPECT_TRUE(config.ok()) << config.error();
  return config.ok() ? *config->upstreams[0].check : CheckOptions{};
}

using Headers = std::vector<std::pair<std::string, std::string>>;

TEST(ConfigHttpTest, EveryKeyParses) {
  const CheckOptions check = CheckOf(
      "type = \"http\"\n"
      "request = { method = \"POST\", path = \"/healthz?full=1\", host = \"foo.com\", headers = "
      "{ \"Z-Last\" = \"z\", \"A-First\" = \"a b\" }, body = \"ping\" }\n"
      "expect_status = [\"2xx\", 301, \"!503\", \"300-308\"]\n"
      "expect_header = { name = \"Content-Type\", match = \"^application/json\" }\n"
      "expect_body = '\"status\"\\s*:\\s*\"ok\"'\n"
      "body_max = \"64k\"\n");
  ASSERT_TRUE(check.request.has_value());
  EXPECT_EQ(check.request->method, "POST");
  EXPECT_EQ(check.request->path, "/healthz?full=1");
  EXPECT_EQ(check.request->host, "foo.com");
  // In the file's order, not toml++'s sorted one.
  EXPECT_EQ(check.request->headers, (Headers{{"Z-Last", "z"}, {"A-First", "a b"}}));
  EXPECT_EQ(check.request->body, "ping");
  EXPECT_EQ(check.expect_status, (std::vector<std::string>{"2xx", "301", "!503", "300-308"}));
  ASSERT_TRUE(check.expect_header.has_value());
  EXPECT_EQ(check.expect_header->name, "Content-Type");
  EXPECT_EQ(check.expect_header->match, "^application/json");
  EXPECT_EQ(check.expect_body, "\"status\"\\s*:\\s*\"ok\"");
  EXPECT_EQ(check.body_max, 65536);
  EXPECT_FALSE(check.http_req.has_value());
}

TEST(ConfigHttpTest, RequestAsSubTableWithEveryKeyOptional) {
  const CheckOptions check = CheckOf(
      "type = \"https\"\nhost = \"h\"\nexpect_body = \"ok\"\nbody_max = 100\n"
      "[upstream.check.request]\n"
      "[upstream.check.request.headers]\n"
      "X-B = \"2\"\nX-A = \"1\"\n");
  ASSERT_TRUE(check.request.has_value());
  EXPECT_FALSE(check.request->method.has_value());
  EXPECT_FALSE(check.request->path.has_value());
  EXPECT_FALSE(check.request->host.has_value());
  EXPECT_FALSE(check.request->body.has_value());
  EXPECT_EQ(check.request->headers, (Headers{{"X-B", "2"}, {"X-A", "1"}}));
  EXPECT_EQ(check.body_max, 100);

  const CheckOptions empty = CheckOf("type = \"http\"\nrequest = {}\n");
  ASSERT_TRUE(empty.request.has_value());
  EXPECT_TRUE(empty.request->headers.empty());
  // http_req is not needed with request, and the original's keys still go beside it.
  const CheckOptions both = CheckOf(
      "type = \"http\"\nrequest = { path = \"/\" }\nvalid_statuses = [200]\n"
      "expect_header = { name = \"X\", match = \"\" }\n");
  EXPECT_EQ(both.valid_statuses, std::vector<double>{200});
}

TEST(ConfigHttpTest, RequestErrorsAtTheirKey) {
  const std::string head = "type = \"http\"\n";
  EXPECT_EQ(CheckErrorOf(head + "request = { method = \"G T\" }\n"),
            "upcheck.toml:6:22: upstream[0].check.request.method: \"request\" option: bad method "
            "\"G T\" (an HTTP token such as GET or HEAD)");
  EXPECT_EQ(CheckErrorOf(head + "request = { path = \"healthz\" }\n"),
            "upcheck.toml:6:20: upstream[0].check.request.path: \"request\" option: bad path "
            "\"healthz\" (it starts with / and has no spaces or control characters)");
  EXPECT_EQ(CheckErrorOf(head + "request = { path = \"/a b\" }\n"),
            "upcheck.toml:6:20: upstream[0].check.request.path: \"request\" option: bad path "
            "\"/a b\" (it starts with / and has no spaces or control characters)");
  EXPECT_EQ(CheckErrorOf(head + "request = { host = \"\" }\n"),
            "upcheck.toml:6:20: upstream[0].check.request.host: \"request\" option: bad host \"\" "
            "(a name, without spaces or control characters)");
  EXPECT_EQ(
      CheckErrorOf(head + "request = { headers = { \"X-Ok\" = \"1\", \"Bad Name\" = \"v\" } }\n"),
      "upcheck.toml:6:39: upstream[0].check.request.headers.Bad Name: \"request\" option: "
      "bad header name \"Bad Name\"");
  EXPECT_EQ(CheckErrorOf(head + "request = { headers = { host = \"h\" } }\n"),
            "upcheck.toml:6:25: upstream[0].check.request.headers.host: \"request\" option: "
            "header \"host\" is set by upcheck (the host goes in request.host)");
  EXPECT_EQ(CheckErrorOf(head + "request = { headers = { X = \"a\\r\\nB: c\" } }\n"),
            "upcheck.toml:6:29: upstream[0].check.request.headers.X: \"request\" option: bad "
            "value of header \"X\" (no CR, LF or other control characters)");
  EXPECT_EQ(CheckErrorOf(head + "request = { headers = { X = 1 } }\n"),
            "upcheck.toml:6:29: upstream[0].check.request.headers.X: expected a string, got "
            "integer 1");
  EXPECT_EQ(CheckErrorOf(head + "request = { methd = \"GET\" }\n"),
            "upcheck.toml:6:13: upstream[0].check.request: unknown key \"methd\" (did you mean "
            "\"method\"?)");
  EXPECT_EQ(CheckErrorOf(head + "request = \"GET /\"\n"),
            "upcheck.toml:6:11: upstream[0].check.request: expected a table, got string \"GET /\"");
  EXPECT_EQ(CheckErrorOf(head + "http_req = \"GET / HTTP/1.0\\r\\n\\r\\n\"\nrequest = {}\n"),
            "upcheck.toml:7:11: upstream[0].check.request: \"http_req\" and \"request\" options "
            "cannot be used together");
  // Neither: the original's text.
  EXPECT_EQ(CheckErrorOf(head + "expect_body = \"ok\"\n"),
            "upcheck.toml:4:1: upstream[0].check: \"http_req\" option required");
}

TEST(ConfigHttpTest, ResponseRuleErrorsAtTheirKey) {
  const std::string head = "type = \"http\"\nrequest = {}\n";
  EXPECT_EQ(CheckErrorOf(head + "expect_body = 'a('\n"),
            "upcheck.toml:7:15: upstream[0].check.expect_body: \"expect_body\" option: bad regex "
            "\"a(\": missing closing parenthesis at offset 2");
  EXPECT_EQ(CheckErrorOf(head + "expect_header = { name = \"X\", match = \"[z-a]\" }\n"),
            "upcheck.toml:7:39: upstream[0].check.expect_header.match: \"expect_header\" option: "
            "bad regex \"[z-a]\": range out of order in character class at offset 3");
  EXPECT_EQ(CheckErrorOf(head + "expect_header = { name = \"Content Type\", match = \"json\" }\n"),
            "upcheck.toml:7:26: upstream[0].check.expect_header.name: \"expect_header\" option: "
            "bad header name \"Content Type\"");
  EXPECT_EQ(CheckErrorOf(head + "expect_header = { name = \"X\" }\n"),
            "upcheck.toml:7:17: upstream[0].check.expect_header: missing required key \"match\"");
  EXPECT_EQ(CheckErrorOf(head + "expect_header = { name = \"X\", match = \"\", value = \"v\" }\n"),
            "upcheck.toml:7:43: upstream[0].check.expect_header: unknown key \"value\" (allowed: "
            "name, match)");
  EXPECT_EQ(CheckErrorOf(head + "expect_status = []\n"),
            "upcheck.toml:7:17: upstream[0].check.expect_status: \"expect_status\" option: empty "
            "list (give at least one rule, such as \"2xx\")");
  EXPECT_EQ(CheckErrorOf(head + "expect_status = [\"2xx\", \"20x\"]\n"),
            "upcheck.toml:7:25: upstream[0].check.expect_status[1]: \"expect_status\" option: bad "
            "rule \"20x\" in expect_status (a code like 200, a class like 2xx, a range like "
            "200-399, or one of them after !)");
  EXPECT_EQ(CheckErrorOf(head + "expect_status = [99]\n"),
            "upcheck.toml:7:18: upstream[0].check.expect_status[0]: \"expect_status\" option: bad "
            "rule \"99\" in expect_status (a code like 200, a class like 2xx, a range like "
            "200-399, or one of them after !)");
  EXPECT_EQ(CheckErrorOf(head + "expect_status = [2.5]\n"),
            "upcheck.toml:7:18: upstream[0].check.expect_status[0]: expected a rule (a string "
            "such as \"2xx\" or an integer such as 200), got float 2.5");
  EXPECT_EQ(CheckErrorOf(head + "expect_status = \"2xx\"\n"),
            "upcheck.toml:7:17: upstream[0].check.expect_status: expected an array, got string "
            "\"2xx\"");
}

TEST(ConfigHttpTest, BodyMaxErrors) {
  const std::string head = "type = \"http\"\nrequest = {}\nexpect_body = \"ok\"\n";
  const std::string range =
      "upstream[0].check.body_max: \"body_max\" option: must be between 1 and 16777216 bytes "
      "(16m), got ";
  EXPECT_EQ(CheckErrorOf(head + "body_max = 0\n"), "upcheck.toml:8:12: " + range + "0");
  EXPECT_EQ(CheckErrorOf(head + "body_max = -1\n"), "upcheck.toml:8:12: " + range + "-1");
  EXPECT_EQ(CheckErrorOf(head + "body_max = \"17m\"\n"),
            "upcheck.toml:8:12: " + range + "17825792");
  EXPECT_EQ(CheckErrorOf(head + "body_max = \"16m\"\n"), "(no error)");
  EXPECT_EQ(CheckErrorOf(head + "body_max = \"12q\"\n"),
            "upcheck.toml:8:12: upstream[0].check.body_max: bad size \"12q\" (bytes, or a number "
            "with k or m suffix)");
  EXPECT_EQ(CheckErrorOf(head + "body_max = 1.5\n"),
            "upcheck.toml:8:12: upstream[0].check.body_max: expected a size (bytes, or a string "
            "such as \"64k\" or \"1m\"), got float 1.5");
  EXPECT_EQ(CheckErrorOf("type = \"http\"\nrequest = {}\nbody_max = \"1k\"\n"),
            "upcheck.toml:7:12: upstream[0].check.body_max: \"body_max\" option needs "
            "\"expect_body\"");
}

TEST(ConfigHttpTest, HttpKeysNeedAnHttpType) {
  EXPECT_EQ(CheckErrorOf("type = \"tcp\"\nexpect_body = \"ok\"\n"),
            "upcheck.toml:6:15: upstream[0].check.expect_body: \"expect_body\" option needs type "
            "\"http\" or \"https\"");
  EXPECT_EQ(CheckErrorOf("type = \"tls\"\nhost = \"h\"\nrequest = { path = \"/\" }\n"),
            "upcheck.toml:7:11: upstream[0].check.request: \"request\" option needs type \"http\" "
            "or \"https\"");
  // The first of them, in Spawn's order.
  EXPECT_EQ(CheckErrorOf("type = \"tcp\"\nbody_max = 10\nexpect_status = [\"2xx\"]\n"),
            "upcheck.toml:7:17: upstream[0].check.expect_status: \"expect_status\" option needs "
            "type \"http\" or \"https\"");
  // http_req on tcp is said first, as Spawn does.
  EXPECT_EQ(CheckErrorOf("type = \"tcp\"\nhttp_req = \"x\"\nexpect_body = \"ok\"\n"),
            "upcheck.toml:6:12: upstream[0].check.http_req: \"http_req\" option is not used by "
            "type \"tcp\" (it sends no request)");
}

TEST(ConfigHttpTest, Warnings) {
  const Result<Config> config = ParseConfig(
      WithCheck("type = \"http\"\nhttp_req = \"HEAD / HTTP/1.0\\r\\n\\r\\n\"\n"
                "valid_statuses = [200]\nexpect_status = [\"2xx\"]\nexpect_body = \"\"\n"
                "body_max = \"2m\"\n"),
      "upcheck.toml");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->warnings,
            (std::vector<std::string>{
                "upcheck.toml:8:17: warning: upstream[0].check.expect_status: valid_statuses "
                "applies too: a status must pass both",
                "upcheck.toml:9:15: warning: upstream[0].check.expect_body: the request is HEAD, "
                "whose answer has no body: only a pattern that matches an empty body passes",
                "upcheck.toml:10:12: warning: upstream[0].check.body_max: body_max 2m: up to that "
                "much is held in memory for each probe in flight (each peer probed at once, see "
                "concurrency)"}));
  const Result<Config> head = ParseConfig(
      WithCheck("type = \"http\"\nrequest = { method = \"head\" }\nexpect_body = \"x\"\n"
                "body_max = \"1m\"\n"),
      "upcheck.toml");
  ASSERT_TRUE(head.ok()) << head.error();
  EXPECT_EQ(head->warnings,
            (std::vector<std::string>{
                "upcheck.toml:7:15: warning: upstream[0].check.expect_body: the request is HEAD, "
                "whose answer has no body: only a pattern that matches an empty body passes"}));
}

TEST(ConfigHttpTest, DumpRoundTrips) {
  const Result<Config> config = ParseConfig(
      WithCheck("type = \"http\"\n"
                "request = { method = \"GET\", path = \"/h\", host = \"foo.com\", headers = { "
                "\"Z\" = \"1\", \"User-Agent\" = \"up \\\"check\\\"\" }, body = \"a\\nb\" }\n"
                "expect_status = [\"2xx\", 301]\n"
                "expect_header = { name = \"Content-Type\", match = \"^application/json\" }\n"
                "expect_body = '\"status\"\\s*:\\s*\"ok\"'\nbody_max = 1536\n"),
      "upcheck.toml");
  ASSERT_TRUE(config.ok()) << config.error();
  const std::string dump = DumpConfig(*config);
  EXPECT_NE(dump.find("request = { method = \"GET\", path = \"/h\", host = \"foo.com\", headers = "
                      "{ \"Z\" = \"1\", \"User-Agent\" = \"up \\\"check\\\"\" }, body = \"a\\nb\" "
                      "}\n"),
            std::string::npos)
      << dump;
  EXPECT_NE(dump.find("expect_status = [\"2xx\", \"301\"]\n"), std::string::npos) << dump;
  EXPECT_NE(dump.find("body_max = \"1536\"\n"), std::string::npos) << dump;
  const Result<Config> again = ParseConfig(dump, "dump.toml");
  ASSERT_TRUE(again.ok()) << again.error() << "\n" << dump;
  EXPECT_EQ(DumpConfig(*again), dump);
  const CheckOptions& a = *config->upstreams[0].check;
  const CheckOptions& b = *again->upstreams[0].check;
  EXPECT_EQ(b.request->headers, a.request->headers);
  EXPECT_EQ(b.request->body, a.request->body);
  EXPECT_EQ(b.expect_header->match, a.expect_header->match);
  EXPECT_EQ(b.expect_body, a.expect_body);
  EXPECT_EQ(b.body_max, a.body_max);
}

}  // namespace
}  // namespace upcheck
