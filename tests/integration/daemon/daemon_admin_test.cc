// Admin state end to end: upcheck-shmctl ($UPCHECK_SHMCTL) sets a peer's admin state in a
// running upcheckd's segment and the balancer obeys it at its very next pick (no wait:
// the pick syncs first), while the checks keep probing the peer and the status pages keep
// showing their own verdict; a TTL runs out by itself; bad input changes nothing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon_process.h"
#include "loopback_http_server.h"
#include "slow_tool.h"
#include "subprocess.h"
#include "test_names.h"
#include "upcheck/internal/registry.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

std::string Named(const std::string& body) {
  return "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::set<std::string> Picks(int port, int n) {
  std::set<std::string> seen;
  for (int i = 0; i < n; ++i) seen.insert(ThroughBalancer(port));
  return seen;
}

ProcessResult Shmctl(const std::string& shm, std::vector<std::string> args) {
  const char* path = std::getenv("UPCHECK_SHMCTL");
  args.insert(args.begin(), {path != nullptr ? path : "", "-s", shm});
  return RunProcess(args);
}

// The segment's admin seq of upstream 0 and the `peers --json` listing: what bad input
// must leave as it was.
struct AdminSnapshot {
  uint64_t seq = 0;
  std::string listing;
  bool operator==(const AdminSnapshot&) const = default;
};
AdminSnapshot Snapshot(const std::string& shm) {
  AdminSnapshot s;
  Result<std::unique_ptr<Segment>> seg = Segment::Open(shm);
  if (seg.ok()) {
    if (Result<Registry> reg = Registry::Attach(**seg); reg.ok()) s.seq = reg->admin_seq(0);
  }
  s.listing = Shmctl(shm, {"peers", "--json"}).out;
  return s;
}

// `peers --json`'s row for the peer at `address`.
nlohmann::json PeerRow(const std::string& shm, const std::string& address) {
  ProcessResult r = Shmctl(shm, {"peers", "--json"});
  nlohmann::json rows = nlohmann::json::parse(r.out, nullptr, false);
  if (!rows.is_array()) return nullptr;
  for (const nlohmann::json& row : rows) {
    if (row.value("peer", "") == address) return row;
  }
  return nullptr;
}

class DaemonAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
    ASSERT_NE(std::getenv("UPCHECK_SHMCTL"), nullptr) << "set UPCHECK_SHMCTL";
    ASSERT_TRUE(a_.ok() && b_.ok() && bad_.ok());
    config_.shm_name = UniqueSegmentName("admin");
    config_.workers = 2;
    // bad_ answers what the checks refuse ("BAD" is no status line) and the balancer
    // relays: the checks keep it down, yet a pick of it shows "X".
    config_.upstreams = {{.name = "app",
                          .primary = {a_.address(), b_.address(), bad_.address()},
                          .balancer_listen = "127.0.0.1:0"}};
    daemon_ = std::make_unique<DaemonProcess>(ConfigToml(config_));
    status_port_ = daemon_->StatusPort();
    port_ = daemon_->BalancerPort("app");
    ASSERT_GT(status_port_, 0) << daemon_->err();
    ASSERT_GT(port_, 0) << daemon_->err();
    // Every worker picks by the checks' verdict: A and B, never the refused one.
    ASSERT_TRUE(Eventually([&] {
      return Picks(port_, 6) == std::set<std::string>{"A", "B"} &&
             Picks(port_, 6) == std::set<std::string>{"A", "B"};
    })) << daemon_->err();
  }
  void TearDown() override {
    if (daemon_) {
      EXPECT_EQ(daemon_->Stop(), 0) << daemon_->err();
    }
    (void)Segment::Remove(config_.shm_name);
  }

  const std::string& shm() const { return config_.shm_name; }

  LoopbackHttpServer a_{Family::kV4, Named("A")};
  LoopbackHttpServer b_{Family::kV4, Named("B")};
  LoopbackHttpServer bad_{Family::kV4, "BAD\r\n\r\nX"};
  TestConfig config_;
  std::unique_ptr<DaemonProcess> daemon_;
  int status_port_ = 0;
  int port_ = 0;
};

TEST_F(DaemonAdminTest, DrainedPeerGetsNoNewConnectionYetIsProbed) {
  ProcessResult set = Shmctl(shm(), {"peer", "app", a_.address(), "drain", "--reason", "deploy"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(set.out, "app " + a_.address() + " primary:0 drain\n");
  // At once, in every worker: the pick reads the admin seq before it chooses.
  EXPECT_EQ(Picks(port_, 10), std::set<std::string>{"B"});
  const int probes = a_.requests();
  EXPECT_TRUE(a_.WaitForRequests(probes + 3, Slow(std::chrono::milliseconds(10000))));

  ProcessResult text = Shmctl(shm(), {"peers", "app"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("UPSTREAM\tPEER\tID\tCHECK\tADMIN\tEXPIRES\tREASON\n"),
            std::string::npos);
  EXPECT_NE(text.out.find("app\t" + a_.address() + "\tprimary:0\tup\tdrain\t-\tdeploy\n"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("app\t" + bad_.address() + "\tprimary:2\tdown\tauto\t-\t\n"),
            std::string::npos)
      << text.out;
  nlohmann::json row = PeerRow(shm(), a_.address());
  EXPECT_EQ(row, nlohmann::json::parse(R"({"upstream":"app","peer":")" + a_.address() +
                                       R"(","role":"primary","id":0,"check":"up","admin":"drain",)"
                                       R"("admin_reason":"deploy","admin_expires":null})"));

  // The pages keep the checks' verdict and add the admin state where it has a place.
  HttpAnswer page = HttpGet(status_port_, "/status");
  EXPECT_NE(page.body.find(a_.address() + " UP"), std::string::npos) << page.body;
  HttpAnswer json = HttpGet(status_port_, "/status.json");
  nlohmann::json doc = nlohmann::json::parse(json.body, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << json.body;
  const nlohmann::json& peer = doc["upstreams"][0]["peers"][0];
  EXPECT_EQ(peer["up"], true);
  EXPECT_EQ(peer["admin"], "drain");
  EXPECT_EQ(peer["admin_reason"], "deploy");
  EXPECT_TRUE(peer["admin_expires"].is_null());
  EXPECT_EQ(doc["upstreams"][0]["peers"][1]["admin"], "auto");
  HttpAnswer metrics = HttpGet(status_port_, "/metrics");
  const std::string series = "upcheck_peer_admin_state{upstream=\"app\",peer=\"" + a_.address() +
                             "\",role=\"primary\",state=";
  EXPECT_NE(metrics.body.find(series + "\"drain\"} 1\n"), std::string::npos) << metrics.body;
  EXPECT_EQ(metrics.body.find(series + "\"auto\""), std::string::npos);  // no sample: auto
  EXPECT_NE(metrics.body.find("# TYPE upcheck_peer_admin_state gauge\n"), std::string::npos);

  ProcessResult back = Shmctl(shm(), {"peer", "app", "primary:0", "auto"});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(Picks(port_, 10), (std::set<std::string>{"A", "B"}));
}

TEST_F(DaemonAdminTest, DownIsNeverPickedAndItsTtlRunsOutByItself) {
  ProcessResult set = Shmctl(shm(), {"peer", "app", "primary:1", "down", "--ttl", "1s"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_NE(set.out.find("app " + b_.address() + " primary:1 down until "), std::string::npos)
      << set.out;
  EXPECT_EQ(Picks(port_, 10), std::set<std::string>{"A"});
  const int probes = b_.requests();
  EXPECT_TRUE(b_.WaitForRequests(probes + 2, Slow(std::chrono::milliseconds(10000))));
  nlohmann::json row = PeerRow(shm(), b_.address());
  EXPECT_EQ(row["admin"], "down");
  EXPECT_TRUE(row["admin_expires"].is_string()) << row;
  // Nobody clears it: the readers see the expiry passed.
  EXPECT_TRUE(Eventually([&] { return PeerRow(shm(), b_.address())["admin"] == "auto"; }));
  EXPECT_TRUE(Eventually([&] { return Picks(port_, 6) == std::set<std::string>{"A", "B"}; }));
}

TEST_F(DaemonAdminTest, UpPicksAFailingPeerAndAutoRestoresTheChecks) {
  ProcessResult set = Shmctl(shm(), {"peer", "app", bad_.address(), "up"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(Picks(port_, 9), (std::set<std::string>{"A", "B", "X"}));
  EXPECT_EQ(PeerRow(shm(), bad_.address())["check"], "down");  // the checks still say so
  ProcessResult back = Shmctl(shm(), {"peer", "app", bad_.address(), "auto"});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(Picks(port_, 9), (std::set<std::string>{"A", "B"}));
}

// A reload makes a new segment; the drains of the peers it keeps come along. (Its workers
// read them as the first ones did; the balancer's port 0 is a new port after a reload.)
TEST_F(DaemonAdminTest, AReloadKeepsTheAdminStates) {
  ASSERT_EQ(Shmctl(shm(), {"peer", "app", a_.address(), "drain", "--reason", "r"}).exit_code, 0);
  const size_t mark = daemon_->err().size();
  daemon_->Signal(SIGHUP);
  ASSERT_TRUE(daemon_->WaitForErr("reload done", std::chrono::seconds(10), mark)) << daemon_->err();
  nlohmann::json row = PeerRow(shm(), a_.address());
  EXPECT_EQ(row["admin"], "drain") << row;
  EXPECT_EQ(row["admin_reason"], "r");
}

TEST_F(DaemonAdminTest, BadInputIsOneLineAndChangesNothing) {
  ASSERT_EQ(Shmctl(shm(), {"peer", "app", "primary:0", "drain"}).exit_code, 0);
  const AdminSnapshot before = Snapshot(shm());
  const std::string long_reason(201, 'r');
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"peer", "nope", "primary:0", "down"}, "upstream \"nope\" not found"},
      {{"peer", "app", "127.0.0.1:1", "down"},
       "upstream \"app\" has no peer \"127.0.0.1:1\" (name one by its address or as "
       "primary:N / backup:N)"},
      {{"peer", "app", "backup:0", "down"},
       "upstream \"app\" has no peer \"backup:0\" (name one by its address or as "
       "primary:N / backup:N)"},
      {{"peer", "app", "primary:0", "down", "--ttl", "10x"},
       "bad duration \"10x\" (a whole number with ms, s, m, h or d, up to a year, e.g. 30s or "
       "10m)"},
      {{"peer", "app", "primary:0", "down", "--reason", long_reason},
       "reason is 201 bytes, at most 200"},
      {{"peer", "app", "primary:0", "sleep"}, "unknown state \"sleep\" (down, drain, up or auto)"},
      {{"peer", "app", "primary:0", "auto", "--ttl", "1m"},
       "auto takes no --ttl or --reason: it clears them"},
      {{"peers", "nope"}, "upstream \"nope\" not found"},
  };
  for (const auto& [args, message] : cases) {
    ProcessResult r = Shmctl(shm(), args);
    EXPECT_EQ(r.exit_code, 1) << args[1];
    EXPECT_EQ(r.err, "upcheck-shmctl: " + message + "\n");
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(Snapshot(shm()), before);
  EXPECT_EQ(Picks(port_, 6), std::set<std::string>{"B"});
}

}  // namespace
}  // namespace upcheck::testing
