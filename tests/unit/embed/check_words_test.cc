// ParseCheckWords: nginx-style `key=value` words into CheckOptions, syntax only.
#include "upcheck/check_words.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "upcheck/checker.h"

namespace upcheck {
namespace {

Result<CheckOptions> Parse(std::vector<std::string_view> words) { return ParseCheckWords(words); }

TEST(CheckWordsTest, EveryKeyOfTheDirective) {
  auto o = Parse({"type=https", "http_req=GET / HTTP/1.0\r\nHost: a\r\n\r\n", "interval=2000",
                  "timeout=1000", "fall=3", "rise=2", "valid_statuses=200,302", "concurrency=10",
                  "port=8443", "host=a.example", "ssl_verify=false", "ca_file=/etc/ca.pem"});
  ASSERT_TRUE(o.ok()) << o.error();
  EXPECT_EQ(o->type, "https");
  EXPECT_EQ(o->http_req, "GET / HTTP/1.0\r\nHost: a\r\n\r\n");
  EXPECT_EQ(o->interval_ms, 2000);
  EXPECT_EQ(o->timeout_ms, 1000);
  EXPECT_EQ(o->fall, 3);
  EXPECT_EQ(o->rise, 2);
  EXPECT_EQ(o->valid_statuses, (std::vector<double>{200, 302}));
  EXPECT_EQ(o->concurrency, 10);
  EXPECT_EQ(o->port, 8443);
  EXPECT_EQ(o->host, "a.example");
  EXPECT_EQ(o->ssl_verify, false);
  EXPECT_EQ(o->ca_file, "/etc/ca.pem");
  EXPECT_FALSE(o->shm.has_value());
  EXPECT_FALSE(o->upstream.has_value());
}

TEST(CheckWordsTest, PassiveWords) {
  auto o = Parse({"type=http", "passive_fall=3", "skip_active_when_passing=true"});
  ASSERT_TRUE(o.ok()) << o.error();
  ASSERT_TRUE(o->passive);
  EXPECT_EQ(o->passive->fall, 3);
  EXPECT_TRUE(o->passive->skip_active_when_passing);
  EXPECT_FALSE(Parse({"type=http"})->passive);
  auto zero = Parse({"passive_fall=0"});
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.error().find("passive_fall"), std::string::npos) << zero.error();
  EXPECT_FALSE(Parse({"skip_active_when_passing=yes"}).ok());
}

TEST(CheckWordsTest, AbsentKeysStayAbsentAndEmptyStatusesAreAList) {
  auto none = Parse({});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->type.has_value());
  EXPECT_FALSE(none->valid_statuses.has_value());
  auto empty = Parse({"valid_statuses="});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->valid_statuses, std::vector<double>{});
  // Only the first '=' splits: the value keeps the rest.
  auto req = Parse({"http_req=GET /?a=b HTTP/1.0\r\n\r\n"});
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->http_req, "GET /?a=b HTTP/1.0\r\n\r\n");
}

TEST(CheckWordsTest, ErrorsNameTheWord) {
  struct Row {
    std::vector<std::string_view> words;
    std::string error;
  };
  std::vector<Row> rows = {
      {{"tpye=http"}, "unknown option \"tpye\""},
      {{"shm=healthcheck"}, "unknown option \"shm\""},
      {{"fall"}, "expected key=value, got \"fall\""},
      {{"=3"}, "expected key=value, got \"=3\""},
      {{"fall=x"}, "option \"fall\": expected an integer, got \"x\""},
      {{"interval="}, "option \"interval\": expected an integer, got \"\""},
      {{"rise=1", "rise=2"}, "option \"rise\" given twice"},
      {{"ssl_verify=yes"}, "option \"ssl_verify\": expected true or false, got \"yes\""},
      {{"valid_statuses=200,"},
       "option \"valid_statuses\": expected a comma list of integers, got \"200,\""},
      {{"valid_statuses=2xx"},
       "option \"valid_statuses\": expected a comma list of integers, got \"2xx\""},
  };
  for (const Row& row : rows) {
    auto o = Parse(row.words);
    ASSERT_FALSE(o.ok()) << row.error;
    EXPECT_EQ(o.error(), row.error);
  }
}

// The keys beyond the original's (DESIGN §9): the words nginx's upcheck_check takes.
TEST(CheckWordsTest, TlsKeys) {
  auto o = Parse({"type=tls", "tls_cert=/etc/c.pem", "tls_key=/etc/k.pem", "alpn=h2,http/1.1",
                  "tls_min_version=1.2"});
  ASSERT_TRUE(o.ok()) << o.error();
  EXPECT_EQ(o->type, "tls");
  EXPECT_EQ(o->tls_cert, "/etc/c.pem");
  EXPECT_EQ(o->tls_key, "/etc/k.pem");
  EXPECT_EQ(o->alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(o->tls_min_version, "1.2");
  auto one = Parse({"alpn=h2"});
  ASSERT_TRUE(one.ok()) << one.error();
  EXPECT_EQ(one->alpn, (std::vector<std::string>{"h2"}));
  for (std::string_view bad : {"alpn=", "alpn=h2,", "alpn=,h2", "alpn=h2,,http/1.1"}) {
    auto o = Parse({bad});
    ASSERT_FALSE(o.ok()) << bad;
    EXPECT_EQ(o.error(), "option \"alpn\": expected a comma list of protocol names, got \"" +
                             std::string(bad.substr(5)) + "\"");
  }
}

TEST(CheckWordsTest, HttpKeys) {
  auto o = Parse({"type=http", "request_method=POST", "request_path=/healthz?a=b",
                  "request_host=foo.com", "request_header=User-Agent:   upcheck 1.0",
                  "request_header=X-Trace:a:b", "request_header=X-Empty:", "request_body=ping",
                  "expect_status=2xx,!503,301-308", "expect_header=Content-Type:^application/json",
                  "expect_body=\"status\"\\s*:\\s*\"ok\"", "body_max=64k"});
  ASSERT_TRUE(o.ok()) << o.error();
  ASSERT_TRUE(o->request.has_value());
  EXPECT_EQ(o->request->method, "POST");
  EXPECT_EQ(o->request->path, "/healthz?a=b");
  EXPECT_EQ(o->request->host, "foo.com");
  // In order; split at the first ':', the value's leading spaces dropped.
  EXPECT_EQ(o->request->headers,
            (std::vector<std::pair<std::string, std::string>>{
                {"User-Agent", "upcheck 1.0"}, {"X-Trace", "a:b"}, {"X-Empty", ""}}));
  EXPECT_EQ(o->request->body, "ping");
  EXPECT_EQ(o->expect_status, (std::vector<std::string>{"2xx", "!503", "301-308"}));
  ASSERT_TRUE(o->expect_header.has_value());
  EXPECT_EQ(o->expect_header->name, "Content-Type");
  EXPECT_EQ(o->expect_header->match, "^application/json");
  EXPECT_EQ(o->expect_body, "\"status\"\\s*:\\s*\"ok\"");
  EXPECT_EQ(o->body_max, 65536);
  EXPECT_FALSE(o->http_req.has_value());

  // Any request_* word makes the request present; the others stay absent.
  auto path_only = Parse({"request_path=/"});
  ASSERT_TRUE(path_only.ok()) << path_only.error();
  ASSERT_TRUE(path_only->request.has_value());
  EXPECT_FALSE(path_only->request->method.has_value());
  EXPECT_FALSE(path_only->expect_status.has_value());
  auto none = Parse({"type=http"});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->request.has_value());
  EXPECT_FALSE(none->body_max.has_value());
  auto sizes = Parse({"body_max=100", "expect_status=200", "expect_header=X:"});
  ASSERT_TRUE(sizes.ok()) << sizes.error();
  EXPECT_EQ(sizes->body_max, 100);
  EXPECT_EQ(sizes->expect_status, std::vector<std::string>{"200"});
  EXPECT_EQ(sizes->expect_header->match, "");
  auto empty = Parse({"expect_status="});
  ASSERT_TRUE(empty.ok()) << empty.error();
  EXPECT_EQ(empty->expect_status, std::vector<std::string>{});
}

TEST(CheckWordsTest, HttpKeyErrors) {
  struct Row {
    std::vector<std::string_view> words;
    std::string error;
  };
  std::vector<Row> rows = {
      {{"request_header=NoColon"},
       "option \"request_header\": expected Name: value, got \"NoColon\""},
      {{"expect_header=Content-Type"},
       "option \"expect_header\": expected Name:regex, got \"Content-Type\""},
      {{"expect_status=2xx,"},
       "option \"expect_status\": expected a comma list of rules, got \"2xx,\""},
      {{"expect_status=,2xx"},
       "option \"expect_status\": expected a comma list of rules, got \",2xx\""},
      {{"expect_status=2xx,,3xx"},
       "option \"expect_status\": expected a comma list of rules, got \"2xx,,3xx\""},
      {{"body_max=12q"},
       "option \"body_max\": expected a size (bytes, or a number with k or m suffix), got "
       "\"12q\""},
      {{"body_max="},
       "option \"body_max\": expected a size (bytes, or a number with k or m suffix), got \"\""},
      {{"request_path=/a", "request_path=/b"}, "option \"request_path\" given twice"},
      {{"expect_body=a", "expect_body=b"}, "option \"expect_body\" given twice"},
      {{"request=GET /"}, "unknown option \"request\""},
  };
  for (const Row& row : rows) {
    auto o = Parse(row.words);
    ASSERT_FALSE(o.ok()) << row.error;
    EXPECT_EQ(o.error(), row.error);
  }
}

// What the nginx module checks at `nginx -t`, before any worker forks.
TEST(CheckWordsTest, ValidatedLikeSpawn) {
  auto validate = [](std::vector<std::string_view> words) -> std::string {
    auto o = Parse(std::move(words));
    if (!o.ok()) return o.error();
    Status st = ValidateCheckOptions(*o);
    return st.ok() ? "ok" : st.message();
  };
  EXPECT_EQ(validate({"type=tcp"}), "ok");
  EXPECT_EQ(validate({"type=tls", "alpn=h2", "tls_min_version=1.3"}), "ok");
  EXPECT_EQ(validate({"type=udp"}), "only \"http\" and \"https\" type are supported right now");
  EXPECT_EQ(validate({"type=tcp", "http_req=x"}),
            "\"http_req\" option is not used by type \"tcp\" (it sends no request)");
  EXPECT_EQ(validate({"type=http", "http_req=x", "alpn=h2"}),
            "\"alpn\" option needs type \"https\" or \"tls\"");
  EXPECT_EQ(validate({"type=tls", "tls_cert=/c.pem"}), "\"tls_cert\" option requires \"tls_key\"");
  EXPECT_EQ(validate({"type=tls", "tls_key=/k.pem"}), "\"tls_key\" option requires \"tls_cert\"");
  EXPECT_EQ(validate({"type=tls", "tls_min_version=1.4"}),
            "bad \"tls_min_version\" value \"1.4\" (1.0, 1.1, 1.2 or 1.3)");
  EXPECT_EQ(validate({"type=http", "request_path=/", "expect_body=ok", "body_max=1m"}), "ok");
  EXPECT_EQ(validate({"type=http", "request_path=/", "request_header=Host: a"}),
            "\"request\" option: header \"Host\" is set by upcheck (the host goes in "
            "request.host)");
  EXPECT_EQ(validate({"type=http", "http_req=x", "request_method=GET"}),
            "\"http_req\" and \"request\" options cannot be used together");
  EXPECT_EQ(validate({"type=tcp", "expect_body=ok"}),
            "\"expect_body\" option needs type \"http\" or \"https\"");
  EXPECT_EQ(validate({"type=http", "request_path=/", "expect_status="}),
            "\"expect_status\" option: empty list (give at least one rule, such as \"2xx\")");
  EXPECT_EQ(validate({"type=http", "request_path=/", "expect_body=a("}),
            "\"expect_body\" option: bad regex \"a(\": missing closing parenthesis at offset 2");
  EXPECT_EQ(validate({"type=http", "request_path=/", "expect_body=a", "body_max=17m"}),
            "\"body_max\" option: must be between 1 and 16777216 bytes (16m), got 17825792");
  std::string missing =
      validate({"type=tls", "tls_cert=/nonexistent/c.pem", "tls_key=/nonexistent/k.pem"});
  EXPECT_EQ(missing.rfind("failed to load tls_cert \"/nonexistent/c.pem\": ", 0), 0u) << missing;
}

// DESIGN §10's words, and their errors as `nginx -t` reports them.
TEST(CheckWordsTest, SchedulingWords) {
  auto o = Parse({"type=http", "http_req=x", "fastinter=500", "downinter=10000", "jitter=10"});
  ASSERT_TRUE(o.ok()) << o.error();
  EXPECT_EQ(o->fastinter_ms, 500);
  EXPECT_EQ(o->downinter_ms, 10000);
  EXPECT_EQ(o->jitter, 10);
  EXPECT_TRUE(ValidateCheckOptions(*o).ok());
  EXPECT_EQ(Parse({"jitter=x"}).error(), "option \"jitter\": expected an integer, got \"x\"");
  auto validate = [](std::vector<std::string_view> words) -> std::string {
    auto parsed = Parse(std::move(words));
    if (!parsed.ok()) return parsed.error();
    Status st = ValidateCheckOptions(*parsed);
    return st.ok() ? "ok" : st.message();
  };
  EXPECT_EQ(validate({"type=http", "http_req=x", "fastinter=0"}),
            "\"fastinter\" option must be > 0");
  EXPECT_EQ(validate({"type=http", "http_req=x", "downinter=-1"}),
            "\"downinter\" option must be > 0");
  EXPECT_EQ(validate({"type=http", "http_req=x", "jitter=101"}),
            "\"jitter\" option must be between 0 and 100");
}

}  // namespace
}  // namespace upcheck
