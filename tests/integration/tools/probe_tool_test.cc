// End-to-end tests of upcheck-probe: the real binary (UPCHECK_PROBE) against real loopback
// backends. What an operator sees is checked: the step and rule lines, the engine's message,
// the JSON object, the one-line usage errors, and the exit status (0 ok, 1 failed, 2 usage).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loopback_http_server.h"
#include "tls_test_cert.h"
#include "tool_fixture.h"

namespace upcheck {
namespace {

using testing::Family;
using testing::LoopbackClosedPort;
using testing::LoopbackHttpServer;
using testing::ProcessResult;

constexpr char kOkResponse[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
    "{\"status\":\"ok\"}";
constexpr char kDownResponse[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n"
    "{\"status\":\"down\"}";
constexpr auto kWait = std::chrono::seconds(10);

ProcessResult Probe(const std::vector<std::string>& args) {
  return testing::RunTool("UPCHECK_PROBE", args);
}

// The line of stdout that starts with `name` (the label column), or "" when none does.
std::string LineOf(const std::string& out, const std::string& name) {
  size_t at = 0;
  while (at < out.size()) {
    const size_t end = out.find('\n', at);
    const std::string line = out.substr(at, end - at);
    if (line.rfind(name + " ", 0) == 0) return line;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return "";
}

// The verdict column of a line: what follows the label and its padding.
std::string VerdictOf(const std::string& out, const std::string& name) {
  const std::string line = LineOf(out, name);
  const size_t start = line.find_first_not_of(' ', name.size());
  return start == std::string::npos ? "" : line.substr(start);
}

// Exit 2, nothing on stdout, one line "upcheck-probe: ..." holding `needle`.
::testing::AssertionResult IsUsageError(const ProcessResult& r, const std::string& needle) {
  if (r.exit_code != 2) {
    return ::testing::AssertionFailure()
           << "exit " << r.exit_code << ", stderr: " << r.err << ", stdout: " << r.out;
  }
  if (!r.out.empty()) return ::testing::AssertionFailure() << "stdout: " << r.out;
  if (r.err.rfind("upcheck-probe: ", 0) != 0 || std::count(r.err.begin(), r.err.end(), '\n') != 1 ||
      r.err.back() != '\n') {
    return ::testing::AssertionFailure() << "not one prefixed line: [" << r.err << "]";
  }
  if (r.err.find(needle) == std::string::npos) {
    return ::testing::AssertionFailure() << "[" << r.err << "] lacks [" << needle << "]";
  }
  return ::testing::AssertionSuccess();
}

TEST(ProbeToolTest, OkAgainstA200BackendShowsEveryStep) {
  LoopbackHttpServer server(Family::kV4, kOkResponse);
  ASSERT_TRUE(server.ok()) << server.error();
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/healthz";
  ProcessResult r = Probe({url});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(LineOf(r.out, "peer"), "peer            " + server.address() + " (http)");
  for (const char* step : {"resolve", "connect", "send", "first byte"}) {
    EXPECT_NE(VerdictOf(r.out, step).find(" ms"), std::string::npos) << step << "\n" << r.out;
  }
  EXPECT_EQ(LineOf(r.out, "tls"), "");  // plain http has no handshake
  EXPECT_NE(VerdictOf(r.out, "resolve").find("127.0.0.1 (no lookup)"), std::string::npos);
  EXPECT_EQ(VerdictOf(r.out, "status line"), "pass  HTTP/1.1 200 OK");
  EXPECT_EQ(VerdictOf(r.out, "outcome"), "ok");
  // The request the URL asks for, built as a check's `request` is.
  ASSERT_TRUE(server.WaitForRequests(1, kWait));
  const std::string request = server.last_request();
  EXPECT_EQ(request.rfind("GET /healthz HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("\r\nHost: " + server.address() + "\r\n"), std::string::npos) << request;
}

TEST(ProbeToolTest, RequestFlagsBuildTheRequest) {
  LoopbackHttpServer server(Family::kV4, kOkResponse);
  ASSERT_TRUE(server.ok()) << server.error();
  // Repeated --header flags before the target leave the target alone.
  ProcessResult r = Probe({"--header", "X-A: 1", "--header", "X-B:2", server.address(), "--method",
                           "POST", "--path", "/p", "--host", "foo.com", "--body", "hi"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(server.WaitForRequests(1, kWait));
  const std::string request = server.last_request();
  EXPECT_EQ(request.rfind("POST /p HTTP/1.1\r\nHost: foo.com\r\nX-A: 1\r\nX-B: 2\r\n", 0), 0u)
      << request;
  EXPECT_NE(request.find("\r\nContent-Length: 2\r\n"), std::string::npos) << request;
}

TEST(ProbeToolTest, FailingExpectBodyNamesTheRuleAndTheEnginesMessage) {
  LoopbackHttpServer server(Family::kV4, kDownResponse);
  ASSERT_TRUE(server.ok()) << server.error();
  ProcessResult r =
      Probe({server.address(), "--expect-status", "2xx", "--expect-header",
             "content-type:^application/json", "--expect-body", R"("status"\s*:\s*"ok")"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(VerdictOf(r.out, "status line"), "pass  HTTP/1.1 200 OK");
  EXPECT_EQ(VerdictOf(r.out, "expect_status"), "pass  status 200");
  EXPECT_EQ(VerdictOf(r.out, "expect_header"), "pass  content-type matches");
  EXPECT_EQ(VerdictOf(r.out, "expect_body"), "fail  does not match expect_body");
  EXPECT_NE(VerdictOf(r.out, "body").find("ms  17 bytes"), std::string::npos) << r.out;
  EXPECT_EQ(VerdictOf(r.out, "outcome"),
            "body of " + server.address() + " does not match expect_body");
}

// The libuv engine (every TLS probe's) reports the same steps and outcome as the epoll one.
TEST(ProbeToolTest, LibuvEngineReportsTheSame) {
  LoopbackHttpServer server(Family::kV4, kDownResponse);
  ASSERT_TRUE(server.ok()) << server.error();
  ASSERT_EQ(setenv("UPCHECK_PROBE_ENGINE", "libuv", 1), 0);
  ProcessResult r = Probe({server.address(), "--expect-body", "ok"});
  unsetenv("UPCHECK_PROBE_ENGINE");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  for (const char* step : {"connect", "send", "first byte", "body"}) {
    EXPECT_NE(VerdictOf(r.out, step).find(" ms"), std::string::npos) << step << "\n" << r.out;
  }
  EXPECT_EQ(VerdictOf(r.out, "expect_body"), "fail  does not match expect_body");
  EXPECT_EQ(VerdictOf(r.out, "outcome"),
            "body of " + server.address() + " does not match expect_body");
}

TEST(ProbeToolTest, RulesAfterTheFailingOneAreNotReached) {
  LoopbackHttpServer server(Family::kV4, kOkResponse);
  ASSERT_TRUE(server.ok()) << server.error();
  ProcessResult r = Probe({server.address(), "--valid-statuses", "200,302", "--expect-status",
                           "!200", "--expect-body", "ok"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(VerdictOf(r.out, "valid_statuses"), "pass  status 200");
  EXPECT_EQ(VerdictOf(r.out, "expect_status"), "fail  status 200");
  EXPECT_EQ(VerdictOf(r.out, "expect_body"), "not reached");
  EXPECT_EQ(VerdictOf(r.out, "body"), "not reached");
  EXPECT_EQ(VerdictOf(r.out, "outcome"), "bad status code from " + server.address() + ": 200");
}

TEST(ProbeToolTest, RefusedPortFailsInTheConnectStep) {
  LoopbackClosedPort closed;
  ASSERT_TRUE(closed.ok());
  ProcessResult r = Probe({closed.address(), "--expect-body", "x"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(VerdictOf(r.out, "connect").rfind("failed at ", 0), 0u) << r.out;
  EXPECT_EQ(VerdictOf(r.out, "send"), "not reached");
  EXPECT_EQ(VerdictOf(r.out, "status line"), "not reached");
  EXPECT_EQ(VerdictOf(r.out, "expect_body"), "not reached");
  EXPECT_EQ(VerdictOf(r.out, "outcome"),
            "failed to connect to " + closed.address() + ": connection refused");
}

TEST(ProbeToolTest, TcpTypeEndsAtTheConnect) {
  LoopbackHttpServer server(Family::kV4, kOkResponse);
  ASSERT_TRUE(server.ok()) << server.error();
  ProcessResult r = Probe({server.address(), "--type", "tcp"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(LineOf(r.out, "peer"), "peer            " + server.address() + " (tcp)");
  EXPECT_NE(VerdictOf(r.out, "connect").find(" ms"), std::string::npos) << r.out;
  EXPECT_EQ(LineOf(r.out, "send"), "");
  EXPECT_EQ(LineOf(r.out, "status line"), "");
  EXPECT_EQ(VerdictOf(r.out, "outcome"), "ok");
  EXPECT_TRUE(server.WaitForConnections(1, kWait));
  EXPECT_EQ(server.requests(), 0);
}

TEST(ProbeToolTest, Ipv6TargetInBrackets) {
  if (!testing::HasIpv6Loopback()) GTEST_SKIP() << "no ::1 here";
  LoopbackHttpServer server(Family::kV6, kOkResponse);
  ASSERT_TRUE(server.ok()) << server.error();
  ProcessResult r = Probe({"http://" + server.address() + "/"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(LineOf(r.out, "peer"), "peer            " + server.address() + " (http)");
  EXPECT_NE(VerdictOf(r.out, "resolve").find("::1 (no lookup)"), std::string::npos) << r.out;
}

class ProbeToolTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cert = testing::TlsTestCert::Generate();  // CN=localhost, its own CA
    ASSERT_TRUE(cert.ok()) << cert.error();
    cert_ = std::move(*cert);
    LoopbackHttpServer::Options options;
    options.response = kOkResponse;
    options.tls_cert_file = cert_->cert_file();
    options.tls_key_file = cert_->key_file();
    server_ = std::make_unique<LoopbackHttpServer>(options);
    ASSERT_TRUE(server_->ok()) << server_->error();
  }
  std::string Url() const { return "https://" + server_->address() + "/"; }

  std::unique_ptr<testing::TlsTestCert> cert_;
  std::unique_ptr<LoopbackHttpServer> server_;
};

TEST_F(ProbeToolTlsTest, HttpsWithTheTestCaAndItsName) {
  ProcessResult r = Probe({Url(), "--ca-file", cert_->cert_file(), "--host", "localhost"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(LineOf(r.out, "peer"), "peer            " + server_->address() + " (https)");
  EXPECT_NE(VerdictOf(r.out, "tls").find(" ms"), std::string::npos) << r.out;
  EXPECT_EQ(VerdictOf(r.out, "status line"), "pass  HTTP/1.1 200 OK");
  ASSERT_TRUE(server_->WaitForRequests(1, kWait));
  EXPECT_NE(server_->last_request().find("\r\nHost: localhost\r\n"), std::string::npos);
}

TEST_F(ProbeToolTlsTest, HttpsWithAWrongHostFailsTheHandshake) {
  ProcessResult r = Probe({Url(), "--ca-file", cert_->cert_file(), "--host", "wrong.example"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(VerdictOf(r.out, "tls").rfind("failed at ", 0), 0u) << r.out;
  EXPECT_EQ(VerdictOf(r.out, "send"), "not reached");
  EXPECT_EQ(
      VerdictOf(r.out, "outcome").rfind("failed to ssl handshake to " + server_->address(), 0), 0u)
      << r.out;
}

TEST_F(ProbeToolTlsTest, TlsTypeEndsAtTheHandshake) {
  ProcessResult r = Probe({server_->address(), "--type", "tls", "--ca-file", cert_->cert_file(),
                           "--host", "localhost"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(VerdictOf(r.out, "tls").find(" ms"), std::string::npos) << r.out;
  EXPECT_EQ(LineOf(r.out, "send"), "");
}

TEST(ProbeToolTest, JsonHasTheStepsRulesAndOutcome) {
  LoopbackHttpServer server(Family::kV4, kDownResponse);
  ASSERT_TRUE(server.ok()) << server.error();
  ProcessResult r = Probe({server.address(), "--json", "--expect-body", "down"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["peer"], server.address());
  EXPECT_EQ(j["type"], "http");
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["result"], "ok");
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["body_bytes"], 17);
  std::vector<std::string> steps;
  for (const auto& s : j["steps"]) {
    steps.push_back(s["step"]);
    EXPECT_EQ(s["result"], "pass") << s;
    EXPECT_TRUE(s["ms"].is_number()) << s;
  }
  EXPECT_EQ(steps, (std::vector<std::string>{"resolve", "connect", "send", "first byte", "body"}));
  ASSERT_EQ(j["rules"].size(), 2u);
  EXPECT_EQ(j["rules"][1]["rule"], "expect_body");
  EXPECT_EQ(j["rules"][1]["result"], "pass");

  LoopbackClosedPort closed;
  ASSERT_TRUE(closed.ok());
  ProcessResult failed = Probe({closed.address(), "--json"});
  EXPECT_EQ(failed.exit_code, 1);
  const nlohmann::json f = nlohmann::json::parse(failed.out, nullptr, false);
  ASSERT_FALSE(f.is_discarded()) << failed.out;
  EXPECT_EQ(f["result"], "connect");
  EXPECT_EQ(f["message"], "failed to connect to " + closed.address() + ": connection refused");
  EXPECT_EQ(f["steps"][1]["result"], "fail");
  EXPECT_EQ(f["steps"][2]["result"], "not reached");
  EXPECT_TRUE(f["steps"][2]["ms"].is_null());
}

TEST(ProbeToolTest, BadFlagsExitTwoWithOneLine) {
  struct Case {
    std::vector<std::string> args;
    std::string needle;
  };
  const Case cases[] = {
      {{}, "no target"},
      {{"--bogus", "127.0.0.1:80"}, "(see --help)"},
      {{"127.0.0.1"}, "bad target \"127.0.0.1\" (no port;"},
      {{"http://127.0.0.1:0/"}, "port must be 1..65535"},
      {{"ftp://127.0.0.1:21/"}, "the scheme must be http or https"},
      {{"http://u:p@127.0.0.1:80/"}, "user info is not supported"},
      {{"::1:80"}, "an IPv6 address needs brackets"},
      {{"127.0.0.1:80", "--type", "udp"}, "only \"http\" and \"https\" type are supported"},
      {{"127.0.0.1:80", "--timeout", "-1"}, "\"timeout\" option must be >= 0"},
      {{"127.0.0.1:80", "--type", "tcp", "--expect-body", "x"},
       "\"expect_body\" option needs type \"http\" or \"https\""},
      {{"127.0.0.1:80", "--expect-body", "a("}, "\"expect_body\" option: bad regex \"a(\""},
      {{"127.0.0.1:80", "--expect-header", "nocolon"}, "bad --expect-header \"nocolon\""},
      {{"127.0.0.1:80", "--header", "nocolon"}, "bad --header \"nocolon\""},
      {{"127.0.0.1:80", "--valid-statuses", "200,x"}, "bad --valid-statuses \"200,x\""},
      {{"127.0.0.1:80", "--body-max", "12q"}, "bad --body-max"},
      {{"127.0.0.1:80", "--upstream", "u"}, "--upstream and --peer need -c CONFIG"},
      {{"-c", "/nonexistent/upcheck.toml", "--upstream", "u", "--peer", "primary:0"},
       "/nonexistent/upcheck.toml"},
  };
  for (const Case& c : cases) {
    EXPECT_TRUE(IsUsageError(Probe(c.args), c.needle)) << ::testing::PrintToString(c.args);
  }
}

class ProbeToolConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok()) << server_.error();
    ASSERT_TRUE(closed_.ok());
    char dir[] = "/tmp/upcheck-probe-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/upcheck.toml";
    std::ofstream(path_) << "[[upstream]]\nname = \"foo.com\"\n"
                         << "primary = [\"" << server_.address() << "\", \"" << closed_.address()
                         << "\"]\n"
                         << "backup = [\"" << server_.address() << "\"]\n"
                         << "[upstream.check]\ntype = \"http\"\n"
                         << "http_req = \"GET /status HTTP/1.0\\r\\nHost: foo.com\\r\\n\\r\\n\"\n"
                         << "valid_statuses = [200]\n"
                         << "[[upstream]]\nname = \"bare\"\nprimary = [\"127.0.0.1:1\"]\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ProcessResult Run(const std::string& upstream, const std::string& peer,
                    std::vector<std::string> more = {}) {
    std::vector<std::string> args{"-c", path_, "--upstream", upstream, "--peer", peer};
    args.insert(args.end(), more.begin(), more.end());
    return Probe(args);
  }

  LoopbackHttpServer server_{Family::kV4, kOkResponse};
  LoopbackClosedPort closed_;
  std::string dir_;
  std::string path_;
};

TEST_F(ProbeToolConfigTest, ProbesTheConfiguredCheckOfAPeer) {
  ProcessResult r = Run("foo.com", "primary:0");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(VerdictOf(r.out, "valid_statuses"), "pass  status 200");
  ASSERT_TRUE(server_.WaitForRequests(1, kWait));
  EXPECT_EQ(server_.last_request(), "GET /status HTTP/1.0\r\nHost: foo.com\r\n\r\n");

  ProcessResult by_address = Run("foo.com", server_.address());
  EXPECT_EQ(by_address.exit_code, 0) << by_address.out << by_address.err;
  ProcessResult backup = Run("foo.com", "backup:0");
  EXPECT_EQ(backup.exit_code, 0) << backup.out << backup.err;

  ProcessResult down = Run("foo.com", "primary:1");
  EXPECT_EQ(down.exit_code, 1) << down.out << down.err;
  EXPECT_EQ(VerdictOf(down.out, "outcome"),
            "failed to connect to " + closed_.address() + ": connection refused");
}

TEST_F(ProbeToolConfigTest, FlagsOverrideTheConfiguredCheck) {
  ProcessResult r = Run("foo.com", "primary:0", {"--valid-statuses", "204"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(VerdictOf(r.out, "valid_statuses"), "fail  status 200");
  EXPECT_EQ(VerdictOf(r.out, "outcome"), "bad status code from " + server_.address() + ": 200");

  // Request flags replace the raw http_req with a built request.
  ProcessResult built = Run("foo.com", "primary:0", {"--path", "/other"});
  EXPECT_EQ(built.exit_code, 0) << built.out << built.err;
  ASSERT_TRUE(server_.WaitForRequests(2, kWait));
  EXPECT_EQ(server_.last_request().rfind("GET /other HTTP/1.1\r\nHost: foo.com\r\n", 0), 0u)
      << server_.last_request();
}

TEST_F(ProbeToolConfigTest, UnknownUpstreamOrPeerIsAUsageError) {
  EXPECT_TRUE(IsUsageError(Run("nope.com", "primary:0"), "no upstream \"nope.com\" in " + path_));
  EXPECT_TRUE(IsUsageError(Run("bare", "primary:0"),
                           "upstream \"bare\" in " + path_ + " has no [upstream.check] table"));
  EXPECT_TRUE(IsUsageError(Run("foo.com", "primary:5"), "no peer \"primary:5\" in upstream"));
  EXPECT_TRUE(IsUsageError(Run("foo.com", "127.0.0.1:1"), "no peer \"127.0.0.1:1\""));
  EXPECT_TRUE(IsUsageError(Probe({"-c", path_, "--upstream", "foo.com"}),
                           "-c needs --upstream and --peer"));
}

TEST(ProbeToolTest, HelpAndVersionExitZero) {
  ProcessResult help = Probe({"--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("upcheck-probe"), std::string::npos);
  EXPECT_NE(help.out.find("--expect-body"), std::string::npos);
  ProcessResult version = Probe({"--version"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out.rfind("upcheck-probe ", 0), 0u) << version.out;
}

}  // namespace
}  // namespace upcheck
