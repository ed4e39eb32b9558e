// upcheckd with the HTTP rules of DESIGN §9 in [upstream.check]: the backend receives the
// built request, a body or header that breaks its rule turns the peer down with its own
// result in /status.json and the log, the balancer stops picking it, and `--test` refuses a
// bad regex at file:line:key with PCRE2's words. Real binary, loopback peers, deadlines.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "daemon_process.h"
#include "loopback_exchange.h"
#include "loopback_http_server.h"
#include "slow_tool.h"
#include "status_json_peer.h"
#include "subprocess.h"
#include "test_names.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

using std::chrono::seconds;

std::string Answer(const std::string& type, const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kOkBody = R"({"status":"ok"})";
const std::string kDownBody = R"({"status":"down"})";

// [upstream.check] with every rule of §9, two failures to turn a peer down.
std::string RulesToml(const std::string& shm, const std::vector<std::string>& primary) {
  std::string list;
  for (const std::string& p : primary) list += (list.empty() ? "\"" : ", \"") + p + "\"";
  return "[shm]\nname = \"" + shm +
         "\"\nsize = \"256k\"\n\n[daemon]\nworkers = 2\nlog_level = \"notice\"\n"
         "status_listen = \"127.0.0.1:0\"\n\n[[upstream]]\nname = \"app\"\nprimary = [" +
         list +
         "]\nbalancer_listen = \"127.0.0.1:0\"\n\n[upstream.check]\ntype = \"http\"\n"
         "request = { path = \"/healthz\", headers = { \"User-Agent\" = \"upcheck\" } }\n"
         "expect_status = [\"2xx\"]\n"
         "expect_header = { name = \"Content-Type\", match = \"^application/json\" }\n"
         "expect_body = '\"status\":\\s*\"ok\"'\nbody_max = \"4k\"\ninterval = 100\ntimeout = " +
         std::to_string(SlowInterval(1000)) + "\nfall = 2\nrise = 1\n";
}

// The body a request through the balancer gets back ("" when it gets no answer).
std::string BodyThrough(int port) {
  Result<testing::HttpReply> reply = testing::LoopbackExchange(
      port, "GET / HTTP/1.0\r\n\r\n", std::chrono::milliseconds(5000 * SlowToolFactor()));
  return reply.ok() ? reply->body : "";
}

// Until the dict holds `key` = true and every running worker has ended a cycle since: the
// worker that turned the peer down has published it, and every balancer has synced to it.
bool PublishedDown(const std::string& shm, const std::string& key) {
  WorkerCycles cycles;
  std::map<int32_t, uint64_t> base;
  return Eventually(
      [&] {
        if (base.empty()) {
          Result<std::unique_ptr<Segment>> seg = Segment::Open(shm);
          if (!seg.ok() || !cycles.Attach(shm)) return false;
          Result<std::optional<DictValue>> v = (*seg)->dict().Get(key);
          if (!v.ok() || !v->has_value() || **v != DictValue(true)) return false;
          base = cycles.Now();
          return false;
        }
        return cycles.FewestSince(base) >= 1;
      },
      seconds(15));
}

TEST(DaemonHttpRulesTest, BodyAndHeaderMismatchesTurnPeersDownAndOutOfTheBalancer) {
  ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
  LoopbackHttpServer good(Family::kV4, Answer("application/json", kOkBody));
  LoopbackHttpServer bad_body(Family::kV4, Answer("application/json", kDownBody));
  LoopbackHttpServer bad_header(Family::kV4, Answer("text/html", kOkBody));
  ASSERT_TRUE(good.ok() && bad_body.ok() && bad_header.ok());
  const std::string p0 = good.address(), p1 = bad_body.address(), p2 = bad_header.address();
  const std::string shm = UniqueSegmentName("rul");
  DaemonProcess daemon(RulesToml(shm, {p0, p1, p2}));
  const int status_port = daemon.StatusPort();
  const int port = daemon.BalancerPort("app");
  ASSERT_GT(status_port, 0) << daemon.err();
  ASSERT_GT(port, 0) << daemon.err();

  EXPECT_TRUE(daemon.WaitForErr("body of " + p1 + " does not match expect_body")) << daemon.err();
  EXPECT_TRUE(daemon.WaitForErr("header Content-Type of " + p2 + " does not match expect_header"))
      << daemon.err();
  EXPECT_TRUE(daemon.WaitForErr("peer " + p1 + " is turned down after 2 failure(s)"))
      << daemon.err();
  EXPECT_TRUE(daemon.WaitForErr("peer " + p2 + " is turned down after 2 failure(s)"))
      << daemon.err();
  // Read before the balancer sends the backend anything.
  ASSERT_TRUE(good.WaitForRequests(1, std::chrono::milliseconds(5000)));
  EXPECT_EQ(
      good.last_request(),
      "GET /healthz HTTP/1.1\r\nHost: app\r\nUser-Agent: upcheck\r\nConnection: close\r\n\r\n");

  std::string json;
  EXPECT_TRUE(Eventually(
      [&] {
        HttpAnswer a = HttpGet(status_port, "/status.json");
        json = a.body;
        return a.ok && testing::StatusJsonPeer(json, p1)["up"] == false &&
               testing::StatusJsonPeer(json, p2)["up"] == false;
      },
      seconds(15)))
      << json << daemon.err();
  EXPECT_EQ(testing::StatusJsonPeer(json, p1)["last_result"], "body") << json;
  EXPECT_EQ(testing::StatusJsonPeer(json, p1)["last_error"],
            "body of " + p1 + " does not match expect_body")
      << json;
  EXPECT_EQ(testing::StatusJsonPeer(json, p2)["last_result"], "header") << json;
  EXPECT_EQ(testing::StatusJsonPeer(json, p2)["last_error"],
            "header Content-Type of " + p2 + " does not match expect_header")
      << json;
  EXPECT_EQ(testing::StatusJsonPeer(json, p0)["up"], true) << json;
  EXPECT_EQ(testing::StatusJsonPeer(json, p0)["last_result"], "ok") << json;

  ASSERT_TRUE(PublishedDown(shm, "d:app:p1")) << daemon.err();
  ASSERT_TRUE(PublishedDown(shm, "d:app:p2")) << daemon.err();
  std::set<std::string> seen;
  for (int i = 0; i < 8; ++i) seen.insert(BodyThrough(port));
  EXPECT_EQ(seen, (std::set<std::string>{kOkBody}));
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  (void)Segment::Remove(shm);
}

TEST(DaemonHttpRulesTest, TestModeRefusesABadRegexAtItsKey) {
  ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
  const std::string dir = MakeTempDir();
  const std::string head =
      "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:1\"]\n[upstream.check]\n"
      "type = \"http\"\nrequest = { path = \"/healthz\" }\n";
  struct Case {
    std::string line;     // the 7th line of the file
    std::string message;  // after "<path>:"
  };
  const Case cases[] = {
      {"expect_body = 'a('",
       "7:15: upstream[0].check.expect_body: \"expect_body\" option: bad regex \"a(\": missing "
       "closing parenthesis at offset 2\n"},
      {"expect_header = { name = \"Content-Type\", match = \"[z-a]\" }",
       "7:50: upstream[0].check.expect_header.match: \"expect_header\" option: bad regex "
       "\"[z-a]\": range out of order in character class at offset 3\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    const std::string path = dir + "/bad.toml";
    WriteFile(path, head + c.line + "\n");
    ProcessResult r = RunProcess({UpcheckdPath(), "-c", path, "--test"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, path + ":" + c.message);
  }
  RemoveTree(dir);
}

}  // namespace
}  // namespace upcheck::testing
