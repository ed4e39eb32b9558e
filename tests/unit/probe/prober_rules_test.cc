// expect_status, expect_header and expect_body (DESIGN §9) through real probes against
// loopback backends, on both engines (the suite runs again with UPCHECK_PROBE_ENGINE=libuv):
// each rule passing and failing, bodies framed by Content-Length, chunks or the close, split
// across many reads, larger than body_max, cut short, and too slow.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "loopback_http_server.h"
#include "probe/prober.h"
#include "prober_fixture.h"
#include "tls_test_cert.h"

namespace upcheck {
namespace {

using std::chrono::milliseconds;
using testing::LoopbackHttpServer;
using Mode = LoopbackHttpServer::Mode;

std::vector<StatusRule> Rules(std::vector<std::string> texts) {
  Result<std::vector<StatusRule>> rules = ParseStatusRules(texts);
  EXPECT_TRUE(rules.ok()) << rules.error();
  return rules.ok() ? *rules : std::vector<StatusRule>{};
}

std::string Response(const std::string& head, const std::string& body) {
  return "HTTP/1.1 200 OK\r\n" + head + "\r\n" + body;
}

std::string WithLength(const std::string& body, const std::string& extra = "") {
  return Response(extra + "Content-Length: " + std::to_string(body.size()) + "\r\n", body);
}

class ProberRulesTest : public ProberFixture {
 protected:
  static ProbeOptions BodyOptions(const std::string& pattern, int64_t timeout_ms = 5000) {
    ProbeOptions options = HttpOptions(std::nullopt, timeout_ms);
    options.rules.body_match = pattern;
    return options;
  }
  static ProbeOptions HeaderOptions(const std::string& name, const std::string& pattern) {
    ProbeOptions options = HttpOptions();
    options.rules.header_name = name;
    options.rules.header_match = pattern;
    return options;
  }

  ProbeResult ProbeServer(const LoopbackHttpServer::Options& server_options, ProbeOptions options) {
    LoopbackHttpServer server(server_options);
    EXPECT_TRUE(server.ok()) << server.error();
    name_ = server.address();
    return ProbeOnce(MakeProber(std::move(options)), server.address());
  }
  ProbeResult ProbeServer(const std::string& response, ProbeOptions options) {
    return ProbeServer(LoopbackHttpServer::Options{.response = response}, std::move(options));
  }

  std::string name_;  // of the last server probed
};

// ---- expect_status ------------------------------------------------------------------

TEST_F(ProberRulesTest, StatusClassRangeAndNegation) {
  struct Case {
    std::vector<std::string> rules;
    int status;
    bool ok;
  };
  const Case cases[] = {
      {{"2xx"}, 204, true},          {{"2xx"}, 301, false},
      {{"200-399"}, 302, true},      {{"200-399"}, 404, false},
      {{"!503"}, 500, true},         {{"!503"}, 503, false},
      {{"!503", "5xx"}, 500, true},  {{"!503", "5xx"}, 503, false},
      {{"2xx", "!503"}, 503, false}, {{"2xx", "301-308"}, 307, true},
  };
  for (const Case& c : cases) {
    ProbeOptions options = HttpOptions();
    options.rules.expect_status = Rules(c.rules);
    ProbeResult result = ProbeServer(testing::StatusResponse(c.status), options);
    EXPECT_EQ(result.ok(), c.ok) << c.rules[0] << " with " << c.status << ": " << result.message;
    if (!c.ok) {
      EXPECT_EQ(result.kind, ProbeKind::kStatusCode);
      EXPECT_EQ(result.message, "bad status code from " + name_ + ": " + std::to_string(c.status));
    }
  }
}

TEST_F(ProberRulesTest, ValidStatusesAndExpectStatusMustBothPass) {
  ProbeOptions options = HttpOptions({{200}});
  options.rules.expect_status = Rules({"2xx"});
  EXPECT_TRUE(ProbeServer(testing::StatusResponse(200), options).ok());
  EXPECT_EQ(ProbeServer(testing::StatusResponse(201), options).kind, ProbeKind::kStatusCode);
  options.valid_statuses = {{500}};
  EXPECT_EQ(ProbeServer(testing::StatusResponse(500), options).kind, ProbeKind::kStatusCode);
}

TEST_F(ProberRulesTest, ExpectStatusWithoutAStatusLineIsABadStatusLine) {
  ProbeOptions options = HttpOptions();
  options.rules.expect_status = Rules({"2xx"});
  ProbeResult result = ProbeServer("SSH-2.0-OpenSSH\r\n", options);
  EXPECT_EQ(result.kind, ProbeKind::kStatusLine);
}

// ---- expect_header ------------------------------------------------------------------

TEST_F(ProberRulesTest, HeaderNameMatchesInAnyCase) {
  ProbeResult result =
      ProbeServer(WithLength("{}", "content-TYPE:   application/json; charset=utf-8 \r\n"),
                  HeaderOptions("Content-Type", "^application/json;"));
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.body_bytes, 0u) << "no body rule: the body is not read";
}

TEST_F(ProberRulesTest, HeaderThatDoesNotMatchFails) {
  ProbeResult result = ProbeServer(WithLength("<html>", "Content-Type: text/html\r\n"),
                                   HeaderOptions("Content-Type", "^application/json"));
  EXPECT_EQ(result.kind, ProbeKind::kHeader);
  EXPECT_EQ(ProbeResultName(result), "header");
  EXPECT_EQ(result.message, "header Content-Type of " + name_ + " does not match expect_header");
}

TEST_F(ProberRulesTest, AnyHeaderOfTheNameMayMatch) {
  ProbeResult result = ProbeServer(WithLength("", "X-State: starting\r\nX-State: ready\r\n"),
                                   HeaderOptions("x-state", "^ready$"));
  EXPECT_TRUE(result.ok()) << result.message;
}

TEST_F(ProberRulesTest, MissingHeaderFails) {
  ProbeResult result =
      ProbeServer(WithLength("{}"), HeaderOptions("Content-Type", "^application/json"));
  EXPECT_EQ(result.kind, ProbeKind::kHeader);
  EXPECT_EQ(result.message, "header Content-Type of " + name_ + " is missing");
}

TEST_F(ProberRulesTest, HeadersCutShortAreAReceiveFailure) {
  ProbeResult result = ProbeServer("HTTP/1.1 200 OK\r\nContent-Type: appl",
                                   HeaderOptions("Content-Type", "^application/json"));
  EXPECT_EQ(result.kind, ProbeKind::kReceiveResponse);
  EXPECT_EQ(ProbeResultName(result), "receive");
  EXPECT_EQ(result.message, "failed to receive response from " + name_ + ": closed");
}

// ---- expect_body --------------------------------------------------------------------

constexpr char kOkPattern[] = R"("status"\s*:\s*"ok")";

TEST_F(ProberRulesTest, BodyWithContentLengthMatches) {
  const std::string body = R"({"status": "ok", "checks": 3})";
  ProbeResult result = ProbeServer(WithLength(body), BodyOptions(kOkPattern));
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.body_bytes, body.size());
}

TEST_F(ProberRulesTest, BodyThatDoesNotMatchFailsWithItsOwnText) {
  ProbeResult result =
      ProbeServer(WithLength(R"({"status": "degraded"})"), BodyOptions(kOkPattern));
  EXPECT_EQ(result.kind, ProbeKind::kBody);
  EXPECT_EQ(ProbeResultName(result), "body");
  EXPECT_EQ(result.message, "body of " + name_ + " does not match expect_body");
}

TEST_F(ProberRulesTest, ChunkedBodyIsMatchedAcrossChunks) {
  // The match spans the chunk boundary; chunk extensions and trailers are skipped.
  const std::string chunked =
      "7;ext=1\r\n{\"statu\r\n"
      "a\r\ns\": \"ok\"}\r\n"
      "0\r\nX-Trailer: 1\r\n\r\n";
  ProbeResult result =
      ProbeServer(Response("Transfer-Encoding: chunked\r\n", chunked), BodyOptions(kOkPattern));
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.body_bytes, 17u);
}

TEST_F(ProberRulesTest, BadChunkSizeIsABodyFailure) {
  ProbeResult result = ProbeServer(
      Response("Transfer-Encoding: chunked\r\n", "zz\r\nabc\r\n0\r\n\r\n"), BodyOptions("abc"));
  EXPECT_EQ(result.kind, ProbeKind::kBody);
  EXPECT_EQ(result.message, "body of " + name_ + " has a bad chunked encoding");
}

TEST_F(ProberRulesTest, BodyWithoutFramingEndsAtTheClose) {
  ProbeResult result = ProbeServer(Response("", R"({"status":"ok"})"), BodyOptions(kOkPattern));
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.body_bytes, 15u);
}

TEST_F(ProberRulesTest, ResponseThatEndsBeforeItsBodyMatchesFails) {
  // Content-Length promises more than comes: what came is matched, and does not match.
  ProbeResult result =
      ProbeServer(Response("Content-Length: 100\r\n", R"({"status":)"), BodyOptions(kOkPattern));
  EXPECT_EQ(result.kind, ProbeKind::kBody);
  EXPECT_EQ(result.body_bytes, 10u);
}

TEST_F(ProberRulesTest, BodyLargerThanBodyMaxIsMatchedOnItsFirstBytes) {
  const std::string body = std::string(100, 'x') + "NEEDLE" + std::string(200'000, 'y');
  ProbeOptions found = BodyOptions("NEEDLE");
  found.rules.body_max = 1000;
  ProbeResult result = ProbeServer(WithLength(body), found);
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.body_bytes, 1000u);

  ProbeOptions past = BodyOptions("y{2}NEEDLE|NEEDLE$");
  past.rules.body_max = 1000;
  result = ProbeServer(Response("", std::string(2000, 'y') + "NEEDLE"), past);
  EXPECT_EQ(result.kind, ProbeKind::kBody) << "the needle lies past body_max";
  EXPECT_EQ(result.body_bytes, 1000u);
}

TEST_F(ProberRulesTest, BodySplitAcrossManySmallReadsIsJoined) {
  const std::string body = R"({"checks": [1, 2, 3], "status": "ok"})";
  ProbeResult result =
      ProbeServer({.mode = Mode::kTrickle, .response = WithLength(body), .delay = milliseconds(1)},
                  BodyOptions(R"(\[1, 2, 3\], "status": "ok"\}$)"));
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.body_bytes, body.size());
}

TEST_F(ProberRulesTest, SlowBodyPastTheTimeoutTimesOut) {
  const std::string body(400, 'z');
  ProbeResult result = ProbeServer({.mode = Mode::kHangMidResponse, .response = WithLength(body)},
                                   BodyOptions("never", 100));
  EXPECT_EQ(result.kind, ProbeKind::kReceiveResponse);
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(ProbeResultName(result), "timeout");
  EXPECT_EQ(result.message, "failed to receive response from " + name_ + ": timeout");
}

TEST_F(ProberRulesTest, AnswersWithoutABodyMatchAnEmptyBody) {
  ProbeOptions options = BodyOptions("^$");
  options.rules.head_request = true;
  ProbeResult result = ProbeServer(
      {.mode = Mode::kHangMidResponse,
       .response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + std::string(60, 'x')},
      options);
  EXPECT_TRUE(result.ok()) << result.message << ": a HEAD answer ends at its headers";
  result = ProbeServer("HTTP/1.1 204 No Content\r\n\r\n", BodyOptions("^$"));
  EXPECT_TRUE(result.ok()) << result.message;
}

TEST_F(ProberRulesTest, StatusIsJudgedBeforeTheBody) {
  ProbeOptions options = BodyOptions(kOkPattern);
  options.valid_statuses = {{200}};
  ProbeResult result =
      ProbeServer("HTTP/1.1 503 Busy\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}", options);
  EXPECT_EQ(result.kind, ProbeKind::kStatusCode);
}

TEST_F(ProberRulesTest, HeaderAndBodyTogether) {
  ProbeOptions options = BodyOptions(kOkPattern);
  options.rules.header_name = "Content-Type";
  options.rules.header_match = "json";
  const std::string ok = R"({"status":"ok"})";
  EXPECT_TRUE(ProbeServer(WithLength(ok, "Content-Type: application/json\r\n"), options).ok());
  EXPECT_EQ(ProbeServer(WithLength(ok, "Content-Type: text/plain\r\n"), options).kind,
            ProbeKind::kHeader);
}

TEST_F(ProberRulesTest, TimingsFollowTheSteps) {
  ProbeResult result = ProbeServer(WithLength(R"({"status":"ok"})"), BodyOptions(kOkPattern));
  ASSERT_TRUE(result.ok()) << result.message;
  const ProbeTimings& t = result.timings;
  EXPECT_GE(t.connected_ms, 0);
  EXPECT_EQ(t.handshaken_ms, -1);
  EXPECT_GE(t.sent_ms, t.connected_ms);
  EXPECT_GE(t.first_byte_ms, t.sent_ms);
  EXPECT_GE(result.duration_ms, t.first_byte_ms);
}

TEST_F(ProberRulesTest, BadRegexIsRefusedAtCreate) {
  auto prober = Prober::Create(loop_.get(), BodyOptions("a("));
  ASSERT_FALSE(prober.ok());
  EXPECT_EQ(prober.error(),
            "expect_body: bad regex \"a(\": missing closing parenthesis at offset 2");
}

// ---- over TLS (always the libuv engine) -----------------------------------------------

TEST_F(ProberRulesTest, HttpsBodyIsMatched) {
  auto cert = testing::TlsTestCert::Generate();
  ASSERT_TRUE(cert.ok()) << cert.error();
  ProbeOptions options = BodyOptions(kOkPattern);
  options.scheme = ProbeScheme::kHttps;
  options.ssl_verify = false;
  LoopbackHttpServer::Options server{.response = Response("", R"({"status":"ok"})"),
                                     .tls_cert_file = (*cert)->cert_file(),
                                     .tls_key_file = (*cert)->key_file()};
  ProbeResult result = ProbeServer(server, options);
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_GE(result.timings.handshaken_ms, result.timings.connected_ms);
  server.response = Response("", R"({"status":"down"})");
  EXPECT_EQ(ProbeServer(server, options).kind, ProbeKind::kBody);
}

}  // namespace
}  // namespace upcheck
