// A mixed fleet (DESIGN §11): one nginx host (`upcheck_fleet`) and two upcheckd hosts
// (`[fleet]`) check the same backends under one upstream name and one prefix through one
// redis-server. The two kinds share Redis keys by construction; here the backend's probe
// count shows it (one probe per interval across all three hosts, counted against their
// cycles), and a backend turned down is down on every host whichever kind holds the lock.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster_fixture.h"
#include "daemon_process.h"
#include "loopback_http_server.h"
#include "nginx_process.h"
#include "redis_server.h"
#include "status_json_peer.h"
#include "test_names.h"
#include "upcheck/internal/registry.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

constexpr int kHostWorkers = 2;  // per host: the machine has few cores
constexpr size_t kDaemons = 2;
constexpr int kHosts = 1 + static_cast<int>(kDaemons);
constexpr char kApp[] = "app";
constexpr char kPrefix[] = "mixed:";
constexpr char kNginxId[] = "lb-nginx";

// Bodies that tell the balancers' picks apart.
std::string Answer(int status, char body) {
  return "HTTP/1.0 " + std::to_string(status) + " X\r\nContent-Length: 1\r\n\r\n" + body;
}

struct HostFigures {
  uint64_t cycles = 0;  // summed over the running workers' rows
  size_t workers = 0;   // running workers with a row
  FleetRole role = FleetRole::kNone;
};

// The worker rows of `shm` whose pid `running` accepts, and the fleet role of "app".
template <typename Running>
HostFigures Figures(const std::string& shm, Running running) {
  HostFigures figures;
  Result<std::unique_ptr<Segment>> segment = Segment::Open(shm);
  if (!segment.ok()) return figures;
  Result<Registry> registry = Registry::Attach(**segment);
  if (!registry.ok()) return figures;
  for (const WorkerRow& row : registry->Workers()) {
    if (!running(row)) continue;
    figures.cycles += row.cycles;
    ++figures.workers;
  }
  if (std::optional<size_t> u = registry->FindUpstream(kApp)) {
    figures.role = registry->fleet_role(*u);
  }
  return figures;
}

class MixedFleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (NginxProcess::ModulePath().empty()) GTEST_SKIP() << "UPCHECK_NGINX_MODULE is not set";
    ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
    ASSERT_TRUE(a_.ok() && b_.ok());
    Status redis = redis_.Start();
    ASSERT_TRUE(redis.ok()) << redis.message();
    nginx_port_ = FreeLoopbackPort();
    ASSERT_GT(nginx_port_, 0);
  }
  void TearDown() override {
    daemons_.clear();
    for (const std::string& shm : daemon_shms_) (void)Segment::Remove(shm);
  }

  // Both kinds list the peers as "127.0.0.1:PORT" and check them alike.
  std::string NginxBody() const {
    return "upcheck_shm " + nginx_shm_ + " 1m;\n" + "upcheck_fleet redis=" + redis_.address() +
           " host_id=" + kNginxId + " prefix=" + kPrefix + " timeout=2000;\n" + "upstream " + kApp +
           " {\n    server " + a_.address() + ";\n    server " + b_.address() +
           ";\n"
           "    upcheck_check type=http interval=100 timeout=1000 fall=2 rise=2 "
           "valid_statuses=200 \"http_req=GET /health HTTP/1.0\\r\\nHost: app\\r\\n\\r\\n\";\n"
           "}\n"
           "server {\n"
           "    listen 127.0.0.1:" +
           std::to_string(nginx_port_) +
           ";\n"
           "    location = /status { upcheck_status; }\n"
           "    location / { proxy_pass http://" +
           kApp +
           "; }\n"
           "}\n";
  }
  static std::string DaemonId(size_t i) { return "lb-d" + std::to_string(i + 1); }
  std::string DaemonToml(size_t i) {
    TestConfig c;
    c.shm_name = UniqueSegmentName("mixed" + std::to_string(i + 1));
    c.workers = kHostWorkers;
    c.upstreams = {{.name = kApp,
                    .primary = {a_.address(), b_.address()},
                    .interval_ms = 100,
                    .fall = 2,
                    .rise = 2,
                    .balancer_listen = "127.0.0.1:0"}};
    // A generous Redis timeout: a loaded machine must not push a host into probing alone.
    c.fleet_toml = "[fleet]\nredis = \"" + redis_.address() + "\"\nhost_id = \"" + DaemonId(i) +
                   "\"\nprefix = \"" + kPrefix + "\"\ntimeout = 2000\n";
    daemon_shms_.push_back(c.shm_name);
    return ConfigToml(c);
  }

  void StartNginx() {
    Status started = nginx_.Start(NginxBody());
    ASSERT_TRUE(started.ok()) << started.message();
  }
  void StartDaemons() {
    for (size_t i = 0; i < kDaemons; ++i) {
      daemons_.push_back(std::make_unique<DaemonProcess>(DaemonToml(i)));
    }
    for (auto& d : daemons_) ASSERT_GT(d->StatusPort(), 0) << d->err();
  }
  // Every host's workers have ended a cycle and its winner has had the fleet's answer.
  void WaitForEveryHost() {
    ASSERT_TRUE(PollFor([&] {
      for (const HostFigures& f : AllFigures()) {
        if (f.workers != kHostWorkers || f.cycles < kHostWorkers || f.role == FleetRole::kNone) {
          return false;
        }
      }
      return true;
    })) << Describe();
  }

  HostFigures NginxFigures() const {
    const std::vector<pid_t> running = nginx_.WorkerPids();
    return Figures(nginx_shm_, [&](const WorkerRow& row) {
      return std::find(running.begin(), running.end(), row.pid) != running.end();
    });
  }
  std::vector<HostFigures> AllFigures() const {
    std::vector<HostFigures> all{NginxFigures()};
    for (const std::string& shm : daemon_shms_) {
      all.push_back(
          Figures(shm, [](const WorkerRow& row) { return row.state == WorkerState::kRunning; }));
    }
    return all;
  }
  uint64_t TotalCycles() const {
    uint64_t sum = 0;
    for (const HostFigures& f : AllFigures()) sum += f.cycles;
    return sum;
  }
  std::string Describe() const {
    std::string out;
    const std::vector<HostFigures> all = AllFigures();
    for (size_t i = 0; i < all.size(); ++i) {
      out += (i == 0 ? std::string(kNginxId) : DaemonId(i - 1)) + ": " +
             std::to_string(all[i].workers) + " workers, " + std::to_string(all[i].cycles) +
             " cycles, fleet role " + std::string(FleetRoleName(all[i].role)) + "\n";
    }
    out += nginx_.ErrorLog();
    for (const auto& d : daemons_) out += d->err();
    return out;
  }

  std::string RedisGet(const std::string& key) {
    Result<std::string> r = redis_.Run({"GET", std::string(kPrefix) + key});
    return r.ok() ? *r : "error: " + r.error();
  }
  std::string Holder() { return RedisGet(std::string("l:") + kApp); }

  // The nginx host's page has b as `up`, and every proxied request answers `want`.
  bool NginxShows(bool up) const {
    Result<HttpReply> page = Get(nginx_port_, "/status");
    if (!page.ok() || page->status != 200) return false;
    const std::vector<std::string> lines = PeerLines(page->body);
    return std::find(lines.begin(), lines.end(), PeerLine(b_.address(), up)) != lines.end();
  }
  // Daemon i's /status.json has b as `up`.
  bool DaemonShows(size_t i, bool up) const {
    HttpAnswer json = HttpGet(daemons_[i]->StatusPort(), "/status.json");
    return json.ok && StatusJsonPeer(json.body, b_.address())["up"] == up;
  }
  // Lines of every host's log that say a peer "is turned down <how>".
  int LogsTurnedDownBy(const std::string& how) const {
    int n = nginx_.CountLog("is turned down " + how);
    for (const auto& d : daemons_) {
      const std::string err = d->err();
      for (size_t at = err.find("is turned down " + how); at != std::string::npos;
           at = err.find("is turned down " + how, at + 1)) {
        ++n;
      }
    }
    return n;
  }

  LoopbackHttpServer a_{Family::kV4, Answer(200, 'A')};
  LoopbackHttpServer b_{Family::kV4, Answer(200, 'B')};
  RedisServer redis_;
  std::string nginx_shm_ = UniqueSegmentName("mixedngx");
  int nginx_port_ = 0;
  NginxProcess nginx_{NginxProcess::Options{.workers = kHostWorkers, .log_level = "notice"}};
  std::vector<std::string> daemon_shms_;
  std::vector<std::unique_ptr<DaemonProcess>> daemons_;
};

// Without the fleet each host's lock winner probes each peer once per interval while its
// kHostWorkers workers end one cycle each: probes/cycles is 1/kHostWorkers. Shared by the
// three hosts it is 1/(3·kHostWorkers). The bound sits between the two.
TEST_F(MixedFleetTest, BackendSeesOneProbePerIntervalAcrossNginxAndUpcheckd) {
  ASSERT_NO_FATAL_FAILURE(StartNginx());
  ASSERT_NO_FATAL_FAILURE(StartDaemons());
  ASSERT_NO_FATAL_FAILURE(WaitForEveryHost());
  const int probes_before = a_.requests();
  const uint64_t cycles_before = TotalCycles();
  // About forty intervals: every worker of every host ends one cycle per interval.
  const uint64_t cycles_wanted = uint64_t{kHosts} * kHostWorkers * 40;
  ASSERT_TRUE(PollFor([&] { return TotalCycles() >= cycles_before + cycles_wanted; }))
      << Describe();
  const double probes = a_.requests() - probes_before;
  const double cycles = static_cast<double>(TotalCycles() - cycles_before);
  RecordProperty("probes_over_cycles", std::to_string(probes) + "/" + std::to_string(cycles));
  const double shared = 1.0 / (kHosts * kHostWorkers);
  const double alone = 1.0 / kHostWorkers;
  EXPECT_LT(probes / cycles, 0.5 * (shared + alone))
      << probes << " probes over " << cycles << " cycles: every host probes\n"
      << Describe();
  EXPECT_GT(probes / cycles, 0.5 * shared) << probes << " probes over " << cycles << " cycles";
  // Every host registered in the one hash and took part: nobody fell back.
  for (const std::string& id : {std::string(kNginxId), DaemonId(0), DaemonId(1)}) {
    Result<std::string> seen = redis_.Run({"HGET", std::string(kPrefix) + "hosts", id});
    EXPECT_TRUE(seen.ok() && *seen != "(nil)") << id << " is not in " << kPrefix << "hosts";
  }
  for (const HostFigures& f : AllFigures()) EXPECT_NE(f.role, FleetRole::kAlone);
  EXPECT_EQ(nginx_.CountLog("probing alone"), 0) << nginx_.ErrorLog();
  for (const auto& d : daemons_) {
    EXPECT_EQ(d->err().find("probing alone"), std::string::npos) << d->err();
  }
}

class MixedFleetWinnerTest : public MixedFleetTest, public ::testing::WithParamInterface<bool> {};

// GetParam(): the nginx host starts first and takes the lock (true), or the first upcheckd
// host does (false). The holder keeps the lock while it renews it each cycle, so the kind
// that makes the transition is, as a rule, the one that started first.
TEST_P(MixedFleetWinnerTest, ADownBackendIsDownOnEveryHost) {
  const bool nginx_first = GetParam();
  // Both upcheckd hosts start together: either may take the lock.
  const std::string first = nginx_first ? kNginxId : "lb-d";
  if (nginx_first) {
    ASSERT_NO_FATAL_FAILURE(StartNginx());
  } else {
    ASSERT_NO_FATAL_FAILURE(StartDaemons());
  }
  ASSERT_TRUE(PollFor([&] { return Holder().starts_with(first); })) << Holder();
  if (nginx_first) {
    ASSERT_NO_FATAL_FAILURE(StartDaemons());
  } else {
    ASSERT_NO_FATAL_FAILURE(StartNginx());
  }
  ASSERT_NO_FATAL_FAILURE(WaitForEveryHost());
  ASSERT_TRUE(PollFor([&] { return NginxShows(true); })) << Describe();
  for (size_t i = 0; i < kDaemons; ++i) {
    ASSERT_TRUE(PollFor([&] { return DaemonShows(i, true); })) << Describe();
  }
  const std::string holder = Holder();
  RecordProperty("holder_before_down", holder);

  b_.SetResponse(Answer(500, 'B'));
  ASSERT_TRUE(PollFor([&] {
    return RedisGet(std::string("d:") + kApp + ":" + b_.address()) == "1";
  })) << Describe();
  EXPECT_TRUE(PollFor([&] { return NginxShows(false); })) << Describe();
  for (int k = 0; k < 6; ++k) {
    Result<HttpReply> reply = Get(nginx_port_, "/");
    ASSERT_TRUE(reply.ok()) << reply.error();
    EXPECT_EQ(reply->body, "A") << "nginx picked the down peer";
  }
  for (size_t i = 0; i < kDaemons; ++i) {
    EXPECT_TRUE(PollFor([&] { return DaemonShows(i, false); })) << DaemonId(i) << "\n"
                                                                << Describe();
    const int port = daemons_[i]->BalancerPort(kApp);
    for (int k = 0; k < 6; ++k) EXPECT_EQ(ThroughBalancer(port), "A") << DaemonId(i);
  }
  // One host counted the failures; the others took the flag from the fleet.
  EXPECT_GE(LogsTurnedDownBy("after 2 failure"), 1) << Describe();
  EXPECT_TRUE(PollFor([&] { return LogsTurnedDownBy("by the fleet") >= 1; })) << Describe();
  // `holder` names the kind whose winner turned b down, unless the lock moved meanwhile.
  const bool nginx_counted = nginx_.CountLog("is turned down after 2 failure") > 0;
  RecordProperty("nginx_counted_the_failures", nginx_counted ? "yes" : "no");
  if (Holder() == holder) {
    EXPECT_EQ(nginx_counted, holder == kNginxId) << Describe();
  }
}

INSTANTIATE_TEST_SUITE_P(WhicheverKindWins, MixedFleetWinnerTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "NginxHoldsTheLock" : "UpcheckdHoldsTheLock";
                         });

}  // namespace
}  // namespace upcheck::testing
