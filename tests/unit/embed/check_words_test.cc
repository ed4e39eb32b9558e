// ParseCheckWords: nginx-style `key=value` words into CheckOptions, syntax only.
#include "upcheck/check_words.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

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

}  // namespace
}  // namespace upcheck
