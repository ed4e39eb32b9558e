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
      {"type=tcp " + req, "only \"http\" and \"https\" type are supported right now"},
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
