// Bad configurations: `nginx -t` exits 1 with the original's string (or nginx's own for
// misplaced directives) and nginx's `in FILE:LINE`, and leaves no segment behind; a
// running nginx given one on reload keeps serving its old configuration.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "nginx_process.h"
#include "nginx_scenario.h"
#include "nginx_tokens.h"
#include "test_names.h"

namespace upcheck::testing {
namespace {

constexpr int kShmLine = NginxProcess::kFirstBodyLine;
constexpr int kCheckLine = NginxProcess::kFirstBodyLine + 3;

class NginxBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    if (NginxProcess::ModulePath().empty()) GTEST_SKIP() << "UPCHECK_NGINX_MODULE is not set";
    shm_ = UniqueSegmentName("ngxbad");
  }

  // upcheck_shm on the first line, then foo.com with one server and, on kCheckLine,
  // `check_line` (e.g. "upcheck_check type=http ...;").
  std::string Body(const std::string& check_line, const std::string& shm_size = "1m") const {
    return "upcheck_shm " + shm_ + " " + shm_size + ";\n" +
           "upstream foo.com {\n"
           "    server 127.0.0.1:1;\n"
           "    " +
           check_line +
           "\n"
           "}";
  }

  // nginx -t refuses `body` with exactly `message` at `line`, and no segment is left.
  void ExpectRefused(const std::string& body, const std::string& message, int line) {
    NginxProcess nginx;
    ProcessResult run = nginx.Test(body);
    EXPECT_EQ(run.exit_code, 1) << run.err;
    const std::string want = "nginx: [emerg] " + message + " in " + nginx.conf_path() + ":" +
                             std::to_string(line) + "\n";
    EXPECT_NE(run.err.find(want), std::string::npos) << "want: " << want << "got: " << run.err;
    EXPECT_NE(access(("/dev/shm/upcheck." + shm_).c_str(), F_OK), 0)
        << "nginx -t left the segment upcheck." << shm_;
  }

  std::string shm_;
};

struct BadWords {
  std::string words;
  std::string message;
};

TEST_F(NginxBadInput, EveryInvalidCheckOption) {
  const std::string req = kHttpReqWord;
  const std::vector<BadWords> rows = {
      {"", "\"type\" option required"},
      {req + " interval=100", "\"type\" option required"},
      {"type=udp " + req, "only \"http\" and \"https\" type are supported right now"},
      {"type=tcp " + req, "\"http_req\" option is not used by type \"tcp\" (it sends no request)"},
      {"type=https " + req + " tls_cert=/nonexistent.pem",
       "\"tls_cert\" option requires \"tls_key\""},
      {"type=tls tls_min_version=1.9",
       "bad \"tls_min_version\" value \"1.9\" (1.0, 1.1, 1.2 or 1.3)"},
      {"type=ftp " + req, "only \"http\" and \"https\" type are supported right now"},
      {"type=http interval=100", "\"http_req\" option required"},
      {"type=http " + req + " interval=abc",
       "option \"interval\": expected an integer, got \"abc\""},
      {"type=http " + req + " interval=99999999999999999999",
       "option \"interval\": expected an integer, got \"99999999999999999999\""},
      {"type=http " + req + " timeout=1s", "option \"timeout\": expected an integer, got \"1s\""},
      {"type=http " + req + " timeout=-1", "\"timeout\" option must be >= 0"},
      {"type=http " + req + " fall=x", "option \"fall\": expected an integer, got \"x\""},
      {"type=http " + req + " fall=99999999999999999999",
       "option \"fall\": expected an integer, got \"99999999999999999999\""},
      {"type=http " + req + " rise=2.5", "option \"rise\": expected an integer, got \"2.5\""},
      {"type=http " + req + " concurrency=",
       "option \"concurrency\": expected an integer, got \"\""},
      {"type=http " + req + " port=http", "option \"port\": expected an integer, got \"http\""},
      {"type=http " + req + " valid_statuses=200,abc",
       "option \"valid_statuses\": expected a comma list of integers, got \"200,abc\""},
      {"type=http " + req + " valid_statuses=200,",
       "option \"valid_statuses\": expected a comma list of integers, got \"200,\""},
      {"type=https " + req + " ssl_verify=maybe",
       "option \"ssl_verify\": expected true or false, got \"maybe\""},
      {"type=http " + req + " tpye=http", "unknown option \"tpye\""},
      {"type=http " + req + " fall", "expected key=value, got \"fall\""},
      {"type=http " + req + " =2", "expected key=value, got \"=2\""},
      {"type=http " + req + " fall=1 fall=2", "option \"fall\" given twice"},
  };
  for (const BadWords& row : rows) {
    SCOPED_TRACE("upcheck_check " + row.words);
    std::string line = row.words.empty() ? "upcheck_check;" : "upcheck_check " + row.words + ";";
    ExpectRefused(Body(line), row.message, kCheckLine);
  }
}

// The scheduling words of DESIGN §10, refused by `nginx -t` as Spawn refuses them.
TEST_F(NginxBadInput, EveryInvalidSchedulingWord) {
  const std::string req = std::string("type=http ") + kHttpReqWord;
  const std::vector<BadWords> rows = {
      {req + " fastinter=0", "\"fastinter\" option must be > 0"},
      {req + " downinter=-1000", "\"downinter\" option must be > 0"},
      {req + " jitter=101", "\"jitter\" option must be between 0 and 100"},
      {req + " jitter=-1", "\"jitter\" option must be between 0 and 100"},
      {req + " jitter=5%", "option \"jitter\": expected an integer, got \"5%\""},
  };
  for (const BadWords& row : rows) {
    SCOPED_TRACE("upcheck_check " + row.words);
    ExpectRefused(Body("upcheck_check " + row.words + ";"), row.message, kCheckLine);
  }
}

// The HTTP words of DESIGN §9: the syntax is the words' own, the meaning Spawn's.
TEST_F(NginxBadInput, EveryInvalidHttpWord) {
  const std::string req = "type=http request_path=/";
  const std::vector<BadWords> rows = {
      {req + " \"request_header=Host: a\"",
       "\"request\" option: header \"Host\" is set by upcheck (the host goes in request.host)"},
      {req + " request_header=NoColon",
       "option \"request_header\": expected Name: value, got \"NoColon\""},
      {req + " request_method=G@T",
       "\"request\" option: bad method \"G@T\" (an HTTP token such as GET or HEAD)"},
      {"type=http " + std::string(kHttpReqWord) + " request_path=/",
       "\"http_req\" and \"request\" options cannot be used together"},
      {"type=tcp expect_body=ok", "\"expect_body\" option needs type \"http\" or \"https\""},
      {req + " expect_status=2xx,,3xx",
       "option \"expect_status\": expected a comma list of rules, got \"2xx,,3xx\""},
      {req + " expect_status=20x",
       "\"expect_status\" option: bad rule \"20x\" in expect_status (a code like 200, a class "
       "like 2xx, a range like 200-399, or one of them after !)"},
      {req + " expect_header=Content-Type",
       "option \"expect_header\": expected Name:regex, got \"Content-Type\""},
      {req + " expect_body=a(",
       "\"expect_body\" option: bad regex \"a(\": missing closing parenthesis at offset 2"},
      {req + " body_max=1k", "\"body_max\" option needs \"expect_body\""},
      {req + " expect_body=ok body_max=17m",
       "\"body_max\" option: must be between 1 and 16777216 bytes (16m), got 17825792"},
      {req + " expect_body=a expect_body=b", "option \"expect_body\" given twice"},
  };
  for (const BadWords& row : rows) {
    SCOPED_TRACE("upcheck_check " + row.words);
    ExpectRefused(Body("upcheck_check " + row.words + ";"), row.message, kCheckLine);
  }
  NginxProcess nginx;
  ProcessResult run = nginx.Test(
      Body("upcheck_check " + req +
           " request_method=HEAD \"request_header=User-Agent: upcheck\" request_header=X-A:1"
           " expect_status=2xx,!503 \"expect_header=Content-Type:^text/\" \"expect_body=\\d+\""
           " body_max=64k;"));
  EXPECT_EQ(run.exit_code, 0) << run.err;
}

TEST_F(NginxBadInput, CheckWithoutShm) {
  ExpectRefused(
      "upstream foo.com {\n    server 127.0.0.1:1;\n    upcheck_check " + Check("fall=2") + ";\n}",
      "\"upcheck_check\" needs \"upcheck_shm NAME SIZE\" in the http block",
      NginxProcess::kFirstBodyLine + 2);
}

TEST_F(NginxBadInput, StatusWithoutShm) {
  ExpectRefused("server {\n    listen 127.0.0.1:1;\n    location = /status { upcheck_status; }\n}",
                "\"upcheck_status\" needs \"upcheck_shm NAME SIZE\" in the http block",
                NginxProcess::kFirstBodyLine + 2);
}

TEST_F(NginxBadInput, ShmSizeNotASize) {
  ExpectRefused(Body("upcheck_check " + Check("fall=2") + ";", "lots"),
                "invalid upcheck_shm size \"lots\"", kShmLine);
}

TEST_F(NginxBadInput, CheckOutsideAnUpstream) {
  ExpectRefused("upcheck_shm " + shm_ + " 1m;\nupcheck_check " + Check("fall=2") + ";",
                "\"upcheck_check\" directive is not allowed here", kShmLine + 1);
}

TEST_F(NginxBadInput, TwoChecksInOneUpstream) {
  ExpectRefused("upcheck_shm " + shm_ + " 1m;\nupstream foo.com {\n    server 127.0.0.1:1;\n" +
                    "    upcheck_check " + Check("fall=2") + ";\n    upcheck_check " +
                    Check("fall=3") + ";\n}",
                "\"upcheck_check\" directive is duplicate", kCheckLine + 1);
}

TEST_F(NginxBadInput, ShmTooSmallNamesTheSmallestSize) {
  ExpectRefused(Body("upcheck_check " + Check("fall=2") + ";", "4k"),
                "upcheck_shm \"" + shm_ + "\": size must be between 8k and 1024m, got 4k",
                kShmLine);
}

TEST_F(NginxBadInput, StatusWithABadFormat) {
  ExpectRefused("upcheck_shm " + shm_ +
                    " 1m;\nserver {\n    listen 127.0.0.1:1;\n"
                    "    location = /status { upcheck_status xml; }\n}",
                "invalid upcheck_status format \"xml\" (expected text, prometheus or json)",
                kShmLine + 3);
}

TEST_F(NginxBadInput, ShmTwice) {
  ExpectRefused("upcheck_shm " + shm_ + " 1m;\nupcheck_shm " + shm_ + "-2 1m;",
                "\"upcheck_shm\" directive is duplicate", kShmLine + 1);
}

// A CA file that cannot be loaded makes every worker's checker fail to spawn, so it must
// fail nginx -t like any other bad option. The reason after the colon is OpenSSL's.
TEST_F(NginxBadInput, MissingCaFile) {
  NginxProcess nginx;
  ProcessResult run = nginx.Test(Body("upcheck_check type=https " + std::string(kHttpReqWord) +
                                      " ca_file=/nonexistent/ca.pem;"));
  // Refused before fork, not by every worker at start (which would run it unchecked).
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(run.err.find("nginx: [emerg] failed to load ca_file \"/nonexistent/ca.pem\": "), 0u)
      << run.err;
  EXPECT_NE(run.err.find(" in " + nginx.conf_path() + ":" + std::to_string(kCheckLine) + "\n"),
            std::string::npos)
      << run.err;
}

// A refused reload leaves nginx on its old configuration: same workers, same page.
TEST_F(NginxBadInput, BadReloadKeepsTheOldConfiguration) {
  NginxProcess nginx;
  const int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  const std::string server = "\nserver {\n    listen 127.0.0.1:" + std::to_string(port) +
                             ";\n    location = /status { upcheck_status; }\n}";
  Status started =
      nginx.Start(Body("upcheck_check " + Check("interval=100 fall=2") + ";") + server);
  ASSERT_TRUE(started.ok()) << started.message();
  Result<HttpReply> before = Get(port, "/status");
  ASSERT_TRUE(before.ok()) << before.error();
  std::vector<pid_t> workers = nginx.WorkerPids();

  Status reloaded =
      nginx.Reload(Body("upcheck_check type=ftp " + std::string(kHttpReqWord) + ";") + server);
  ASSERT_FALSE(reloaded.ok());
  EXPECT_NE(reloaded.message().find("only \"http\" and \"https\" type are supported right now in " +
                                    nginx.conf_path() + ":" + std::to_string(kCheckLine)),
            std::string::npos)
      << reloaded.message();

  EXPECT_TRUE(nginx.MasterRunning());
  EXPECT_EQ(nginx.WorkerPids(), workers);
  Result<HttpReply> after = Get(port, "/status");
  ASSERT_TRUE(after.ok()) << after.error();
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(after->headers["x-worker-pid"], std::to_string(workers.at(0)));
  EXPECT_EQ(after->body.substr(0, 17), "Upstream foo.com\n");
  EXPECT_EQ(access(("/dev/shm/upcheck." + shm_).c_str(), F_OK), 0) << "the segment went away";
  ASSERT_TRUE(nginx.Stop().ok());
  EXPECT_NE(access(("/dev/shm/upcheck." + shm_).c_str(), F_OK), 0) << "nginx's exit left it";
}

}  // namespace
}  // namespace upcheck::testing
