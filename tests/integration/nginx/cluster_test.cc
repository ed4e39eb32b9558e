// ngx_http_upcheck_module across nginx's own workers (DESIGN.md §8): four workers share one
// segment, exactly one probes per interval, a peer published down is picked by none of them,
// a worker killed mid-probe is respawned and follows the next transition, reloads keep or
// renew the dict as nginx's zones do (Q6: positionally), and the tools read the live segment.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include <nlohmann/json.hpp>

#include "cluster_fixture.h"
#include "slow_tool.h"
#include "subprocess.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

using std::chrono::seconds;
using ProbeMode = ClusterBackend::ProbeMode;

// Read on the test's thread before any other starts.
std::string EnvPath(const char* name) {
  const char* path = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  return path != nullptr ? path : "";
}

bool IsTrue(const std::optional<DictValue>& v) {
  return v && std::holds_alternative<bool>(*v) && std::get<bool>(*v);
}

TEST_F(NginxClusterTest, OneProbeCyclePerIntervalReachesEachBackend) {
  ClusterBackend a(kProbePath), b(kProbePath);
  ASSERT_TRUE(a.ok() && b.ok()) << a.error() << b.error();
  ASSERT_NO_FATAL_FAILURE(
      StartCluster({.servers = {a.address(), b.address()}, .interval_ms = 200}));

  constexpr uint64_t kIntervals = 10;
  const std::map<pid_t, uint64_t> base = Cycles();
  const int a_base = a.probes(), b_base = b.probes();
  ASSERT_EQ(base.size(), static_cast<size_t>(kWorkers));
  ASSERT_TRUE(WaitForCycles(base, kIntervals)) << nginx_.ErrorLog();
  const int a_probes = a.probes() - a_base, b_probes = b.probes() - b_base;
  const auto fewest = static_cast<int>(FewestSince(base));
  const auto most = static_cast<int>(MostSince(base));

  // Every worker ticks each interval, but only the one that adds l:up probes: each backend
  // sees one probe per interval, give or take the cycle under way at either end. Four
  // probing workers would show about 4 x kIntervals.
  for (int probes : {a_probes, b_probes}) {
    EXPECT_GE(probes, fewest - 1) << "cycles per worker since base: " << fewest << ".." << most;
    EXPECT_LE(probes, most + 1) << "cycles per worker since base: " << fewest << ".." << most;
  }
  EXPECT_LE(std::abs(a_probes - b_probes), 1);
}

// The failing peer's probes answer 500, or see the connection closed.
class NginxPickTest : public NginxClusterTest, public ::testing::WithParamInterface<ProbeMode> {};

TEST_P(NginxPickTest, APeerPublishedDownGetsNoProxiedRequestFromAnyWorker) {
  ClusterBackend a(kProbePath), b(kProbePath);
  ASSERT_TRUE(a.ok() && b.ok()) << a.error() << b.error();
  ASSERT_NO_FATAL_FAILURE(StartCluster({.servers = {a.address(), b.address()}, .fall = 2}));

  constexpr int kRequests = 1000, kFailAt = 200, kLatestPublish = 500;
  const std::string turned_down = "peer " + a.address() + " is turned down after 2 failure(s)";
  std::optional<int> published_at;  // the first request sent after the publish was seen
  int a_at_publish = 0;
  std::set<pid_t> workers_after;
  for (int i = 0; i < kRequests; ++i) {
    if (i == kFailAt) {
      ASSERT_GT(a.proxied(), 0) << "round robin never picked " << a.address();
      a.SetProbeMode(GetParam());
    }
    const bool seen = i > kFailAt && !published_at && Version() >= 1 &&
                      nginx_.ErrorLog().find(turned_down) != std::string::npos;
    // Half the requests at least come after the publish, however slow the transition.
    if (seen || (i == kLatestPublish && !published_at)) {
      ASSERT_NE(WaitForTurnedDown(a.address(), 2, 1), 0) << nginx_.ErrorLog();
      published_at = i;
      a_at_publish = a.proxied();
    }
    Result<Proxied> sent = Proxy(i);
    ASSERT_TRUE(sent.ok()) << "request " << i << ": " << sent.error();
    if (published_at) {
      workers_after.insert(sent->worker);
      EXPECT_EQ(sent->backend_port, b.port()) << "request " << i << ", worker " << sent->worker;
    }
  }
  const pid_t turned_by = WaitForTurnedDown(a.address(), 2, 1);
  ASSERT_TRUE(published_at.has_value());
  EXPECT_EQ(a.proxied(), a_at_publish) << "proxied to " << a.address() << " after the publish";
  // Every worker served some of the requests after the publish, not only the one that saw
  // the failures.
  EXPECT_EQ(workers_after.size(), static_cast<size_t>(kWorkers)) << "turned down by " << turned_by;
  EXPECT_GE(kRequests - *published_at, kRequests - kLatestPublish);
}

INSTANTIATE_TEST_SUITE_P(FailingProbes, NginxPickTest,
                         ::testing::Values(ProbeMode::kFail, ProbeMode::kClose),
                         [](const ::testing::TestParamInfo<ProbeMode>& info) {
                           return info.param == ProbeMode::kFail ? "Answers500" : "Closes";
                         });

TEST_F(NginxClusterTest, AWorkerKilledMidProbeIsRespawnedAndFollowsTheNextTransition) {
  ClusterBackend a(kProbePath), b(kProbePath);
  ASSERT_TRUE(a.ok() && b.ok()) << a.error() << b.error();
  // A long timeout: the probe of a hanging peer keeps its worker mid-cycle until killed.
  ASSERT_NO_FATAL_FAILURE(StartCluster(
      {.servers = {a.address(), b.address()}, .interval_ms = 300, .timeout_ms = 10000, .fall = 1}));

  a.SetProbeMode(ProbeMode::kHang);
  ASSERT_TRUE(a.WaitForHeld(1, Slow(seconds(30))));
  const std::vector<pid_t> before = nginx_.WorkerPids();
  const pid_t prober = ConnectedTo(before, a.port());
  ASSERT_NE(prober, 0) << "no worker holds the probe's connection";
  for (const WorkerRow& row : LiveRows()) {
    if (row.pid == prober) {
      EXPECT_GT(row.last_cycle_start_ms, row.last_cycle_end_ms) << "its cycle is under way";
    }
  }
  ASSERT_EQ(kill(prober, SIGKILL), 0);
  ASSERT_TRUE(nginx_.WaitForLog("worker process " + std::to_string(prober) + " exited on signal 9"))
      << nginx_.ErrorLog();
  pid_t fresh = 0;
  ASSERT_TRUE(PollFor([&] {
    const std::vector<pid_t> now = nginx_.WorkerPids();
    for (pid_t pid : now) {
      if (std::find(before.begin(), before.end(), pid) == before.end()) fresh = pid;
    }
    return now.size() == static_cast<size_t>(kWorkers) && fresh != 0;
  })) << "nginx did not respawn the worker";

  // The next transition: the held probes and the later ones fail.
  a.SetProbeMode(ProbeMode::kFail);
  ASSERT_NE(WaitForTurnedDown(a.address(), 1, 1), 0) << nginx_.ErrorLog();
  const int a_at_publish = a.proxied();
  ASSERT_TRUE(WaitForLocalVersions(Version())) << "the workers did not all sync";

  int by_fresh = 0;
  for (int i = 0; i < 2000 && by_fresh < 20; ++i) {
    Result<Proxied> sent = Proxy(i);
    ASSERT_TRUE(sent.ok()) << "request " << i << ": " << sent.error();
    EXPECT_EQ(sent->backend_port, b.port()) << "request " << i << ", worker " << sent->worker;
    by_fresh += sent->worker == fresh ? 1 : 0;
  }
  EXPECT_EQ(by_fresh, 20) << "the respawned worker " << fresh << " answered too few requests";
  EXPECT_EQ(a.proxied(), a_at_publish);
}

// Peer A is turned down and published, then healthy again: with rise = 1000 only the dict's
// d: flag keeps a peer down from there on (no test runs for 1000 cycles). A "marker" key
// shows whether the dict survived a reload.
class NginxReloadTest : public NginxClusterTest {
 protected:
  void StartWithADown() {
    ASSERT_TRUE(a_.ok() && b_.ok()) << a_.error() << b_.error();
    a_.SetProbeMode(ProbeMode::kFail);
    ASSERT_NO_FATAL_FAILURE(StartCluster(conf_));
    ASSERT_NE(WaitForTurnedDown(a_.address(), 1, 1), 0) << nginx_.ErrorLog();
    a_.SetProbeMode(ProbeMode::kOk);
    ASSERT_TRUE(DictSet("marker", 42));
  }
  double Marker() const {
    std::optional<DictValue> v = DictGet("marker");
    return v && std::holds_alternative<double>(*v) ? std::get<double>(*v) : 0;
  }

  ClusterBackend a_{kProbePath}, b_{kProbePath};
  ClusterConf conf_{.servers = {a_.address(), b_.address()}, .fall = 1, .rise = 1000};
};

TEST_F(NginxReloadTest, TheSameConfigKeepsTheDict) {
  ASSERT_NO_FATAL_FAILURE(StartWithADown());
  ASSERT_NO_FATAL_FAILURE(ReloadCluster(conf_));
  EXPECT_EQ(Marker(), 42);
  EXPECT_EQ(Version(), 1);
  EXPECT_TRUE(IsTrue(DictGet("d:up:p0")));
  // A passes its probes and its server line says up: only the dict holds it down now.
  EXPECT_TRUE(WaitForEveryPage({PeerLine(a_.address(), false), PeerLine(b_.address(), true)}));
  for (int i = 0; i < 40; ++i) {
    Result<Proxied> sent = Proxy(i);
    ASSERT_TRUE(sent.ok()) << "request " << i << ": " << sent.error();
    EXPECT_EQ(sent->backend_port, b_.port()) << "request " << i;
  }
}

TEST_F(NginxReloadTest, ReorderedServersTakeTheFlagsByPosition) {
  ASSERT_NO_FATAL_FAILURE(StartWithADown());
  conf_.servers = {b_.address(), a_.address()};
  ASSERT_NO_FATAL_FAILURE(ReloadCluster(conf_));
  EXPECT_EQ(Marker(), 42);
  // Q6: d:up:p0 was A's flag; B is p0 now, so every new worker holds B down and A up.
  EXPECT_TRUE(WaitForEveryPage({PeerLine(b_.address(), false), PeerLine(a_.address(), true)}));
  for (int i = 0; i < 40; ++i) {
    Result<Proxied> sent = Proxy(i);
    ASSERT_TRUE(sent.ok()) << "request " << i << ": " << sent.error();
    EXPECT_EQ(sent->backend_port, a_.port()) << "request " << i;
  }
}

TEST_F(NginxReloadTest, AnotherSizeMakesANewSegmentAndQuitRemovesIt) {
  ASSERT_NO_FATAL_FAILURE(StartWithADown());
  conf_.shm_size = "2m";
  ASSERT_NO_FATAL_FAILURE(ReloadCluster(conf_));
  EXPECT_FALSE(DictGet("marker").has_value());
  EXPECT_FALSE(DictGet("d:up:p0").has_value());
  {
    Result<std::unique_ptr<Segment>> segment = Segment::Open(shm_);
    ASSERT_TRUE(segment.ok()) << segment.error();
    EXPECT_EQ((*segment)->info().dict_size, size_t{2} * 1024 * 1024);
  }
  EXPECT_TRUE(WaitForEveryPage({PeerLine(a_.address(), true), PeerLine(b_.address(), true)}));

  Status stopped = nginx_.Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.message();
  struct stat st {};
  EXPECT_NE(stat(("/dev/shm/" + SegmentObjectName(shm_)).c_str(), &st), 0)
      << "the segment outlived nginx";
}

TEST_F(NginxClusterTest, TheToolsReadTheLiveSegment) {
  const std::string shmctl = EnvPath("UPCHECK_SHMCTL"), status = EnvPath("UPCHECK_STATUS");
  ASSERT_FALSE(shmctl.empty() || status.empty()) << "set UPCHECK_SHMCTL and UPCHECK_STATUS";
  ClusterBackend a(kProbePath), b(kProbePath);
  ASSERT_TRUE(a.ok() && b.ok()) << a.error() << b.error();
  a.SetProbeMode(ProbeMode::kFail);
  ASSERT_NO_FATAL_FAILURE(StartCluster({.servers = {a.address(), b.address()}, .fall = 1}));
  ASSERT_NE(WaitForTurnedDown(a.address(), 1, 1), 0) << nginx_.ErrorLog();
  ASSERT_TRUE(WaitForLocalVersions(1));

  ProcessResult workers = RunProcess({shmctl, "-s", shm_, "workers", "--json"});
  ASSERT_EQ(workers.exit_code, 0) << workers.err;
  const auto doc = nlohmann::json::parse(workers.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded()) << workers.out;
  std::set<pid_t> alive;
  for (const auto& row : doc["workers"]) {
    if (row["liveness"] == "alive") alive.insert(row["pid"].get<pid_t>());
  }
  const std::vector<pid_t> running = nginx_.WorkerPids();
  EXPECT_EQ(alive, std::set<pid_t>(running.begin(), running.end())) << workers.out;

  ProcessResult keys = RunProcess({shmctl, "-s", shm_, "keys"});
  ASSERT_EQ(keys.exit_code, 0) << keys.err;
  EXPECT_NE(keys.out.find("d:up:p0\ttrue\t-\n"), std::string::npos) << keys.out;
  EXPECT_NE(keys.out.find("v:up\t1\t-\n"), std::string::npos) << keys.out;
  EXPECT_EQ(keys.out.find("d:up:p1"), std::string::npos) << keys.out;

  ProcessResult page = RunProcess({status, "-s", shm_});
  ASSERT_EQ(page.exit_code, 0) << page.err;
  const std::vector<std::string> want = {PeerLine(a.address(), false), PeerLine(b.address(), true)};
  EXPECT_EQ(PeerLines(page.out), want) << page.out;
  const std::map<pid_t, std::string> pages = StatusPages();
  EXPECT_EQ(pages.size(), static_cast<size_t>(kWorkers));
  for (const auto& [pid, text] : pages) EXPECT_EQ(PeerLines(text), want) << "worker " << pid;

  // The module's workers journal in the same segment: the transition, with its failure.
  ProcessResult events = RunProcess({shmctl, "-s", shm_, "events"});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  EXPECT_NE(events.out.find(" down peer " + a.address() +
                            " is turned down after 1 failure(s), "
                            "upstream: \"up\", error: \""),
            std::string::npos)
      << events.out;
}

}  // namespace
}  // namespace upcheck::testing
