// The fleet tier in nginx (DESIGN §11): two nginx hosts, each with its own segment and
// prefix, share one redis-server through `upcheck_fleet`. Across both, the backend sees one
// probe per interval, not one per host; a peer that fails is down on both hosts, the
// follower's from the winner's publish; a reloaded host stays in the fleet, a refused
// reload leaves the old workers in it; and `nginx -t` refuses a bad `upcheck_fleet`.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster_fixture.h"
#include "loopback_http_server.h"
#include "nginx_process.h"
#include "redis_server.h"
#include "test_names.h"
#include "upcheck/internal/registry.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

constexpr int kHostWorkers = 2;  // per host: the machine has few cores
constexpr char kFleetUpstream[] = "up";

// One nginx of the fleet: its segment, its listen port, its nginx.
struct FleetHost {
  explicit FleetHost(std::string host_id)
      : id(std::move(host_id)),
        shm(UniqueSegmentName("fleet")),
        nginx(NginxProcess::Options{.workers = kHostWorkers, .log_level = "notice"}) {}

  std::string id;
  std::string shm;
  int port = 0;
  NginxProcess nginx;
};

struct HostFigures {
  uint64_t cycles = 0;  // summed over the running workers' rows
  size_t workers = 0;   // running workers with a row
  FleetRole role = FleetRole::kNone;
};

// The worker table and the fleet role of `host`'s segment, as the tools read them.
HostFigures Figures(const FleetHost& host) {
  HostFigures figures;
  Result<std::unique_ptr<Segment>> segment = Segment::Open(host.shm);
  if (!segment.ok()) return figures;
  Result<Registry> registry = Registry::Attach(**segment);
  if (!registry.ok()) return figures;
  const std::vector<pid_t> running = host.nginx.WorkerPids();
  for (const WorkerRow& row : registry->Workers()) {
    if (std::find(running.begin(), running.end(), row.pid) == running.end()) continue;
    figures.cycles += row.cycles;
    ++figures.workers;
  }
  if (std::optional<size_t> u = registry->FindUpstream(kFleetUpstream)) {
    figures.role = registry->fleet_role(*u);
  }
  return figures;
}

// Whether SIGPIPE is ignored in `pid` (its SigIgn mask in /proc).
bool IgnoresSigpipe(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("SigIgn:", 0) != 0) continue;
    const uint64_t mask = std::stoull(line.substr(7), nullptr, 16);
    return (mask & (uint64_t{1} << (SIGPIPE - 1))) != 0;
  }
  return false;
}

class NginxFleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (NginxProcess::ModulePath().empty()) GTEST_SKIP() << "UPCHECK_NGINX_MODULE is not set";
    ASSERT_TRUE(backend_.ok()) << backend_.error();
    Status redis = redis_.Start();
    ASSERT_TRUE(redis.ok()) << redis.message();
    for (FleetHost* host : {&a_, &b_}) {
      host->port = FreeLoopbackPort();
      ASSERT_GT(host->port, 0);
    }
  }

  // `fleet_line` on the second line of http{} (after upcheck_shm).
  std::string HttpBody(const FleetHost& host, const std::string& fleet_line) const {
    return "upcheck_shm " + host.shm + " 1m;\n" + fleet_line + "\n" + "upstream " + kFleetUpstream +
           " {\n" + "    server " + backend_.address() + ";\n" +
           "    upcheck_check type=http interval=100 timeout=1000 fall=2 rise=2 "
           "valid_statuses=200 \"http_req=GET /health HTTP/1.0\\r\\nHost: up\\r\\n\\r\\n\";\n"
           "}\n"
           "server {\n"
           "    listen 127.0.0.1:" +
           std::to_string(host.port) +
           ";\n"
           "    location = /status { upcheck_status; }\n"
           "}\n";
  }
  // A generous Redis timeout: a loaded machine must not push a host into probing alone.
  std::string FleetLine(const FleetHost& host) const {
    return "upcheck_fleet redis=" + redis_.address() + " host_id=" + host.id +
           " prefix=nginxfleet: timeout=2000;";
  }

  void StartBoth() {
    for (FleetHost* host : {&a_, &b_}) {
      Status started = host->nginx.Start(HttpBody(*host, FleetLine(*host)));
      ASSERT_TRUE(started.ok()) << started.message();
    }
    // Each host's winner has had the fleet's answer, and every worker ended a cycle.
    ASSERT_TRUE(PollFor([&] {
      for (const FleetHost* host : {&a_, &b_}) {
        const HostFigures f = Figures(*host);
        if (f.workers != kHostWorkers || f.cycles < kHostWorkers || f.role == FleetRole::kNone) {
          return false;
        }
      }
      return true;
    })) << Describe(a_)
        << Describe(b_) << a_.nginx.ErrorLog() << b_.nginx.ErrorLog();
  }

  static std::string Describe(const FleetHost& host) {
    const HostFigures f = Figures(host);
    return host.id + ": " + std::to_string(f.workers) + " workers, " + std::to_string(f.cycles) +
           " cycles, fleet role " + std::string(FleetRoleName(f.role)) + "\n";
  }

  uint64_t FleetCycles() const { return Figures(a_).cycles + Figures(b_).cycles; }

  // The host's status page shows `line`.
  bool PageShows(const FleetHost& host, const std::string& line) const {
    Result<HttpReply> reply = Get(host.port, "/status");
    if (!reply.ok() || reply->status != 200) return false;
    const std::vector<std::string> lines = PeerLines(reply->body);
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  }

  // The fleet lock's holder, once a host holds it.
  std::string Holder() {
    std::string holder;
    (void)PollFor([&] {
      Result<std::string> got = redis_.Run({"GET", std::string("nginxfleet:l:") + kFleetUpstream});
      holder = got.ok() ? *got : "error: " + got.error();
      return holder == a_.id || holder == b_.id;
    });
    return holder;
  }

  // Probes at the backend per worker cycle of both hosts, over about `intervals` intervals.
  double ProbesPerCycle(uint64_t intervals) {
    const int probes_before = backend_.requests();
    const uint64_t cycles_before = FleetCycles();
    const uint64_t cycles_wanted = uint64_t{2} * kHostWorkers * intervals;
    EXPECT_TRUE(PollFor([&] { return FleetCycles() >= cycles_before + cycles_wanted; }))
        << FleetCycles() - cycles_before << " cycles";
    const double probes = backend_.requests() - probes_before;
    const double cycles = static_cast<double>(FleetCycles() - cycles_before);
    RecordProperty("probes_over_cycles", std::to_string(probes) + "/" + std::to_string(cycles));
    return cycles > 0 ? probes / cycles : 1;
  }

  // Both hosts are in the fleet: neither fell back, and each page shows the peer `up`.
  void ExpectBothInTheFleet(bool up) {
    for (const FleetHost* host : {&a_, &b_}) {
      EXPECT_NE(Figures(*host).role, FleetRole::kAlone) << host->id;
      EXPECT_EQ(host->nginx.CountLog("probing alone"), 0) << host->nginx.ErrorLog();
      EXPECT_TRUE(PollFor([&] { return PageShows(*host, PeerLine(backend_.address(), up)); }))
          << host->id << "\n"
          << host->nginx.ErrorLog();
    }
  }

  LoopbackHttpServer backend_{Family::kV4, StatusResponse(200)};
  RedisServer redis_;
  FleetHost a_{"lb-a"};
  FleetHost b_{"lb-b"};
};

TEST_F(NginxFleetTest, TwoHostsShareOneProbePerInterval) {
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  for (const FleetHost* host : {&a_, &b_}) {
    for (pid_t pid : host->nginx.WorkerPids()) {
      EXPECT_TRUE(IgnoresSigpipe(pid)) << "worker " << pid << " of " << host->id;
    }
  }
  const int probes_before = backend_.requests();
  const uint64_t cycles_before = FleetCycles();
  // About forty intervals: every worker of both hosts ends one cycle per interval.
  const uint64_t cycles_wanted = uint64_t{2} * kHostWorkers * 40;
  ASSERT_TRUE(PollFor([&] { return FleetCycles() >= cycles_before + cycles_wanted; }))
      << FleetCycles() - cycles_before << " cycles";
  const double probes = backend_.requests() - probes_before;
  const double cycles = static_cast<double>(FleetCycles() - cycles_before);
  // One probe per interval over 2 x kHostWorkers cycles is 1/(2 x kHostWorkers); each host
  // probing for itself would be 1/kHostWorkers. Below the midpoint: the fleet shares it.
  const double midpoint = 0.75 / kHostWorkers;
  EXPECT_LT(probes / cycles, midpoint) << probes << " probes over " << cycles << " cycles\n"
                                       << a_.nginx.ErrorLog() << b_.nginx.ErrorLog();
  EXPECT_GT(probes, 0);
  EXPECT_EQ(a_.nginx.CountLog("probing alone"), 0) << a_.nginx.ErrorLog();
  EXPECT_EQ(b_.nginx.CountLog("probing alone"), 0) << b_.nginx.ErrorLog();
}

TEST_F(NginxFleetTest, AFailingPeerIsDownOnBothHostsWithOneWinnerAndOneFollower) {
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  const std::string peer = backend_.address();
  ASSERT_TRUE(PollFor([&] { return PageShows(a_, PeerLine(peer, true)); }));
  backend_.SetResponse(StatusResponse(500));
  for (const FleetHost* host : {&a_, &b_}) {
    EXPECT_TRUE(PollFor([&] { return PageShows(*host, PeerLine(peer, false)); }))
        << host->id << "\n"
        << host->nginx.ErrorLog();
  }
  // The host that did not probe the fall-th failure took the flag from the fleet.
  EXPECT_TRUE(PollFor([&] {
    return a_.nginx.CountLog("is turned down by the fleet") +
               b_.nginx.CountLog("is turned down by the fleet") >=
           1;
  })) << a_.nginx.ErrorLog()
      << b_.nginx.ErrorLog();
  // One host's winner holds the fleet lock, the other's follows (the lock may change
  // hands between cycles, so the pair is polled for).
  EXPECT_TRUE(PollFor([&] {
    const std::set<FleetRole> roles{Figures(a_).role, Figures(b_).role};
    return roles == std::set<FleetRole>{FleetRole::kWinner, FleetRole::kFollower};
  })) << FleetRoleName(Figures(a_).role)
      << " / " << FleetRoleName(Figures(b_).role);
}

// SIGHUP the host holding the fleet lock: its new workers rejoin the fleet through Redis,
// the backend still sees one probe per interval across both hosts, a transition made after
// the reload reaches both, and neither host logs at [alert] or [emerg].
TEST_F(NginxFleetTest, AReloadedHostKeepsSharingTheProbes) {
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  const std::string holder = Holder();
  FleetHost& reloaded = holder == a_.id ? a_ : b_;
  RecordProperty("reloaded", reloaded.id);
  Status reload = reloaded.nginx.Reload(HttpBody(reloaded, FleetLine(reloaded)));
  ASSERT_TRUE(reload.ok()) << reload.message();
  ASSERT_TRUE(PollFor([&] {
    const HostFigures f = Figures(reloaded);
    return f.workers == kHostWorkers && f.cycles >= kHostWorkers && f.role != FleetRole::kNone;
  })) << Describe(reloaded)
      << reloaded.nginx.ErrorLog();
  // As in TwoHostsShareOneProbePerInterval: below the midpoint of shared and alone.
  const double per_cycle = ProbesPerCycle(40);
  EXPECT_LT(per_cycle, 0.75 / kHostWorkers) << a_.nginx.ErrorLog() << b_.nginx.ErrorLog();
  EXPECT_GT(per_cycle, 0);
  ExpectBothInTheFleet(true);
  backend_.SetResponse(StatusResponse(500));
  ExpectBothInTheFleet(false);
  EXPECT_TRUE(PollFor([&] {
    return a_.nginx.CountLog("is turned down by the fleet") +
               b_.nginx.CountLog("is turned down by the fleet") >=
           1;
  })) << a_.nginx.ErrorLog()
      << b_.nginx.ErrorLog();
  for (const FleetHost* host : {&a_, &b_}) {
    EXPECT_EQ(host->nginx.CountLog(R"(\[(alert|emerg)\])"), 0) << host->nginx.ErrorLog();
  }
}

// A reload with a bad upcheck_fleet word is refused; as nginx does, the master keeps the
// running configuration: the same workers go on checking, serving and sharing the probes.
TEST_F(NginxFleetTest, AFailedReloadKeepsTheOldWorkersInTheFleet) {
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  std::vector<pid_t> before = a_.nginx.WorkerPids();
  Status reload = a_.nginx.Reload(HttpBody(a_, "upcheck_fleet redis=x;"));
  ASSERT_FALSE(reload.ok());
  EXPECT_NE(reload.message().find("upcheck_fleet: bad redis address \"x\""), std::string::npos)
      << reload.message();
  EXPECT_TRUE(a_.nginx.MasterRunning());
  const uint64_t cycles = Figures(a_).cycles;
  EXPECT_TRUE(PollFor([&] { return Figures(a_).cycles >= cycles + 5 * kHostWorkers; }))
      << Describe(a_) << a_.nginx.ErrorLog();
  std::vector<pid_t> after = a_.nginx.WorkerPids();
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(after, before) << a_.nginx.ErrorLog();
  const double per_cycle = ProbesPerCycle(20);
  EXPECT_LT(per_cycle, 0.75 / kHostWorkers) << a_.nginx.ErrorLog() << b_.nginx.ErrorLog();
  ExpectBothInTheFleet(true);
  backend_.SetResponse(StatusResponse(500));
  ExpectBothInTheFleet(false);
  EXPECT_EQ(a_.nginx.CountLog(R"(\[alert\])"), 0) << a_.nginx.ErrorLog();
}

TEST_F(NginxFleetTest, NginxTestRefusesABadUpcheckFleet) {
  const int fleet_line = NginxProcess::kFirstBodyLine + 1;
  const std::string at = " in " + a_.nginx.conf_path() + ":" + std::to_string(fleet_line);
  struct Case {
    std::string line;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"upcheck_fleet redis=x;",
       "upcheck_fleet: bad redis address \"x\": expected \"IPv4:port\", \"[IPv6]:port\" or "
       "\"unix:/path\", e.g. \"127.0.0.1:6379\""},
      {"upcheck_fleet redis=127.0.0.1:6379 timeout=0;",
       "upcheck_fleet: timeout must be 1..60000 ms, got \"0\""},
      {"upcheck_fleet redis=127.0.0.1:6379 tiemout=5;",
       "upcheck_fleet: unknown option \"tiemout\" (expected redis, host_id, prefix, timeout or "
       "password)"},
      {"upcheck_fleet host_id=lb-1;",
       "upcheck_fleet: redis=ADDRESS is required (e.g. redis=127.0.0.1:6379)"},
      {"upcheck_fleet redis=127.0.0.1:6379 \"host_id=lb 1\";",
       "upcheck_fleet: bad host_id \"lb 1\": 1 to 255 printable ASCII characters, without "
       "spaces"},
  };
  for (const Case& c : cases) {
    const ProcessResult result = a_.nginx.Test(HttpBody(a_, c.line));
    EXPECT_EQ(result.exit_code, 1) << c.line << "\n" << result.err;
    EXPECT_NE(result.err.find("[emerg] " + c.message + at), std::string::npos) << c.line << "\n"
                                                                               << result.err;
  }
  const ProcessResult twice = a_.nginx.Test(HttpBody(a_, FleetLine(a_) + "\n" + FleetLine(a_)));
  EXPECT_EQ(twice.exit_code, 1) << twice.err;
  EXPECT_NE(twice.err.find("\"upcheck_fleet\" directive is duplicate in " + a_.nginx.conf_path() +
                           ":" + std::to_string(fleet_line + 1)),
            std::string::npos)
      << twice.err;
  // Without upcheck_shm there is no segment to share the fleet's answers with.
  const ProcessResult alone = a_.nginx.Test(FleetLine(a_));
  EXPECT_EQ(alone.exit_code, 1) << alone.err;
  EXPECT_NE(
      alone.err.find("\"upcheck_fleet\" needs \"upcheck_shm NAME SIZE\" in the http "
                     "block in " +
                     a_.nginx.conf_path() + ":" + std::to_string(NginxProcess::kFirstBodyLine)),
      std::string::npos)
      << alone.err;
  const ProcessResult good = a_.nginx.Test(HttpBody(a_, FleetLine(a_)));
  EXPECT_EQ(good.exit_code, 0) << good.err;
}

}  // namespace
}  // namespace upcheck::testing
