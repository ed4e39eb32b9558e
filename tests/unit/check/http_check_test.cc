// The HTTP keys of DESIGN §9: the request a `request` table builds, and every refusal of a
// bad key with the message that names it.
#include "check/http_check.h"

#include <gtest/gtest.h>

#include <string>

namespace upcheck {
namespace {

CheckOptions Http() {
  CheckOptions o;
  o.type = "http";
  o.shm = "healthcheck";
  o.upstream = "foo.com";
  o.request = CheckRequest{};
  return o;
}

TEST(BuildRequestTest, DefaultsToGetSlashWithTheDefaultHost) {
  EXPECT_EQ(BuildRequest(CheckRequest{}, "foo.com"),
            "GET / HTTP/1.1\r\nHost: foo.com\r\nConnection: close\r\n\r\n");
}

TEST(BuildRequestTest, EveryPartInOrder) {
  CheckRequest r{.method = "POST",
                 .path = "/healthz?deep=1",
                 .host = "api.example",
                 .headers = {{"User-Agent", "upcheck"}, {"X-Token", "a b"}},
                 .body = "{\"ping\":1}"};
  EXPECT_EQ(BuildRequest(r, "foo.com"),
            "POST /healthz?deep=1 HTTP/1.1\r\nHost: api.example\r\nUser-Agent: upcheck\r\n"
            "X-Token: a b\r\nContent-Length: 10\r\nConnection: close\r\n\r\n{\"ping\":1}");
}

TEST(ValidateHttpKeysTest, AcceptsEveryKeyWellFormed) {
  CheckOptions o = Http();
  o.request->method = "HEAD";
  o.request->headers = {{"Accept", "application/json"}};
  o.expect_status = {{"2xx", "301-308", "!503", "200"}};
  o.expect_header = HeaderExpectation{.name = "Content-Type", .match = "^application/json"};
  o.expect_body = R"("status"\s*:\s*"ok")";
  o.body_max = 1024;
  EXPECT_TRUE(ValidateHttpKeys(o).ok());
  ResponseRuleTexts rules = ResponseRuleTextsOf(o);
  EXPECT_TRUE(rules.head_request);
  EXPECT_EQ(rules.expect_status.size(), 4u);
  EXPECT_EQ(rules.body_max, 1024u);
  EXPECT_TRUE(rules.reads_headers());
}

TEST(ValidateHttpKeysTest, EachBadKeyIsNamed) {
  struct Row {
    void (*change)(CheckOptions&);
    std::string error;
  };
  const Row rows[] = {
      {[](CheckOptions& o) { o.http_req = "GET / HTTP/1.0\r\n\r\n"; },
       "\"http_req\" and \"request\" options cannot be used together"},
      {[](CheckOptions& o) { o.request->method = "G T"; },
       "\"request\" option: bad method \"G T\" (an HTTP token such as GET or HEAD)"},
      {[](CheckOptions& o) { o.request->path = "healthz"; },
       "\"request\" option: bad path \"healthz\" (it starts with / and has no spaces or control "
       "characters)"},
      {[](CheckOptions& o) { o.request->path = "/a b"; },
       "\"request\" option: bad path \"/a b\" (it starts with / and has no spaces or control "
       "characters)"},
      {[](CheckOptions& o) { o.request->host = "a\r\nb"; },
       "\"request\" option: bad host \"a\r\nb\" (a name, without spaces or control characters)"},
      {[](CheckOptions& o) {
         o.request->headers = {{"Bad Name", "x"}};
       },
       "\"request\" option: bad header name \"Bad Name\""},
      {[](CheckOptions& o) {
         o.request->headers = {{"X-A", "1\r\nX-Injected: 2"}};
       },
       "\"request\" option: bad value of header \"X-A\" (no CR, LF or other control characters)"},
      {[](CheckOptions& o) {
         o.request->headers = {{"connection", "keep-alive"}};
       },
       "\"request\" option: header \"connection\" is set by upcheck (the host goes in "
       "request.host)"},
      {[](CheckOptions& o) {
         o.expect_status = {{"2xx", "20x"}};
       },
       "\"expect_status\" option: bad rule \"20x\" in expect_status (a code like 200, a class "
       "like 2xx, a range like 200-399, or one of them after !)"},
      {[](CheckOptions& o) { o.expect_status = {{"399-200"}}; },
       "\"expect_status\" option: bad rule \"399-200\" in expect_status (a code like 200, a "
       "class like 2xx, a range like 200-399, or one of them after !)"},
      {[](CheckOptions& o) { o.expect_status = std::vector<std::string>{}; },
       "\"expect_status\" option: empty list (give at least one rule, such as \"2xx\")"},
      {[](CheckOptions& o) { o.expect_header = HeaderExpectation{.name = "", .match = "x"}; },
       "\"expect_header\" option: bad header name \"\""},
      {[](CheckOptions& o) { o.expect_header = HeaderExpectation{.name = "X", .match = "[a"}; },
       "\"expect_header\" option: bad regex \"[a\": missing terminating ] for character class at "
       "offset 2"},
      {[](CheckOptions& o) { o.expect_body = "a("; },
       "\"expect_body\" option: bad regex \"a(\": missing closing parenthesis at offset 2"},
      {[](CheckOptions& o) { o.body_max = 10; }, "\"body_max\" option needs \"expect_body\""},
      {[](CheckOptions& o) {
         o.expect_body = "x";
         o.body_max = 0;
       },
       "\"body_max\" option: must be between 1 and 16777216 bytes (16m), got 0"},
  };
  for (const Row& row : rows) {
    CheckOptions o = Http();
    row.change(o);
    Status st = ValidateHttpKeys(o);
    ASSERT_FALSE(st.ok()) << row.error;
    EXPECT_EQ(st.message(), row.error);
  }
}

TEST(ValidateHttpKeysTest, FirstHttpKeyNamesWhatATcpCheckMustNotHave) {
  CheckOptions o;
  EXPECT_EQ(FirstHttpKey(o), "");
  o.expect_body = "x";
  EXPECT_EQ(FirstHttpKey(o), "expect_body");
  EXPECT_EQ(HttpKeyNeedsHttpType("expect_body"),
            "\"expect_body\" option needs type \"http\" or \"https\"");
}

}  // namespace
}  // namespace upcheck
