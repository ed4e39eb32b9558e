// upcheckd running: the status page from every worker, respawn after a crash, reload on
// SIGHUP, a clean stop on SIGTERM and persist across restarts. Real binary ($UPCHECKD),
// real loopback backends on port 0; every wait has a deadline.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon_process.h"
#include "loopback_http_server.h"
#include "subprocess.h"
#include "test_names.h"
#include "upcheck/internal/registry.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

using std::chrono::seconds;

class DaemonRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
    ASSERT_TRUE(up_.ok() && backup_.ok() && closed_.ok());
    config_.shm_name = UniqueSegmentName("run");
    config_.workers = 3;
    config_.upstreams = {
        {.name = "app",
         .primary = {up_.address(), closed_.address()},
         .backup = {backup_.address()}},
        {.name = "static", .primary = {"127.0.0.1:1"}, .check = false},
    };
  }
  void TearDown() override { (void)Segment::Remove(config_.shm_name); }

  std::string ExpectedPage(bool closed_down = true) const {
    return "Upstream app\n    Primary Peers\n        " + up_.address() + " UP\n        " +
           closed_.address() + (closed_down ? " DOWN\n" : " UP\n") + "    Backup Peers\n        " +
           backup_.address() + " UP\n\nUpstream static (NO checkers)\n    Primary Peers\n" +
           "        127.0.0.1:1 UP\n    Backup Peers\n";
  }

  // Whether some cycle has published its changes: the registry's copy of `v:app`, which a
  // publisher stores after counting `v:app` up and which every worker compares with its own
  // before it answers. The prober's own view turns a peer DOWN as soon as its probe fails,
  // but the others learn of it only from the publish at the end of that cycle (protocol.md
  // §6.2), and a prober killed in between leaves it to the next cycle: until then, other
  // workers rightly still answer UP.
  bool Published() const {
    Result<std::unique_ptr<Segment>> seg = Segment::Open(config_.shm_name);
    if (!seg.ok()) return false;
    Result<Registry> reg = Registry::Attach(**seg);
    if (!reg.ok()) return false;
    std::optional<size_t> app = reg->FindUpstream("app");
    return app && reg->published_version(*app) >= 1;
  }

  // Waits for a publish, then asks /status until `want` comes back (from any worker, as all
  // now agree); returns the last answer.
  HttpAnswer WaitForPage(int port, const std::string& want, seconds deadline = seconds(10)) {
    HttpAnswer last;
    if (!Eventually([&] { return Published(); }, deadline)) {
      last.error = "no cycle published a version";
      return last;
    }
    Eventually(
        [&] {
          last = HttpGet(port, "/status");
          return last.ok && last.status == 200 && last.body == want;
        },
        deadline);
    return last;
  }

  LoopbackHttpServer up_{Family::kV4, StatusResponse(200)};
  LoopbackHttpServer backup_{Family::kV4, StatusResponse(200)};
  LoopbackClosedPort closed_;
  TestConfig config_;
};

TEST_F(DaemonRunTest, EveryWorkerServesTheSameStatusPage) {
  DaemonProcess daemon(ConfigToml(config_));
  int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();
  HttpAnswer first = WaitForPage(port, ExpectedPage());
  ASSERT_EQ(first.body, ExpectedPage()) << first.error << daemon.err();
  ASSERT_TRUE(Eventually([&] { return RunningWorkers(config_.shm_name).size() == 3; }));
  std::set<int32_t> workers = RunningWorkers(config_.shm_name);
  // Converged: whichever worker answers, the page is the same, byte for byte.
  std::set<int32_t> answered;
  Eventually(
      [&] {
        HttpAnswer a = HttpGet(port, "/status");
        EXPECT_TRUE(a.ok) << a.error;
        EXPECT_EQ(a.body, ExpectedPage());
        EXPECT_EQ(a.headers["content-type"].rfind("text/plain", 0), 0u);
        answered.insert(std::stoi(a.headers["x-worker-pid"]));
        return answered.size() >= 2;
      },
      seconds(30));
  EXPECT_GE(answered.size(), 2u) << "only one worker answered";
  for (int32_t pid : answered) EXPECT_EQ(workers.count(pid), 1u) << pid;
  EXPECT_EQ(HttpGet(port, "/nope").status, 404);
  EXPECT_EQ(HttpGet(port, "/metrics").status, 200);
  // upcheck-status, from the segment alone, prints the page the workers agree on.
  ProcessResult status = RunProcess({std::getenv("UPCHECK_STATUS"), "-c", daemon.config_path()});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(status.out, ExpectedPage());
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

// upcheck-status --check on the live segment: CRITICAL once an upstream has no peer up.
TEST_F(DaemonRunTest, StatusCheckJudgesTheLiveSegment) {
  config_.upstreams.push_back({.name = "dead", .primary = {closed_.address()}});
  DaemonProcess daemon(ConfigToml(config_));
  ASSERT_GT(daemon.StatusPort(), 0) << daemon.err();
  ProcessResult check;
  auto run_check = [&] {
    check = RunProcess({std::getenv("UPCHECK_STATUS"), "-c", daemon.config_path(), "--check"});
    return check;
  };
  EXPECT_TRUE(Eventually([&] { return run_check().exit_code == 1; }, seconds(20)))
      << check.out << daemon.err();
  EXPECT_EQ(check.out, "CRITICAL: upstream \"dead\" has no peer up (0/1)\n");
  EXPECT_EQ(check.err, "");
  EXPECT_TRUE(daemon.WaitForErr("healthcheck: peer " + closed_.address() +
                                " is turned down after 1 failure(s), upstream: \"dead\", "
                                "primaries up: 0/1\n"))
      << daemon.err();
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

// ... and OK while each has one: the static upstream, unchecked, by its configured flags.
TEST_F(DaemonRunTest, StatusCheckIsOkWhileEveryUpstreamHasAPeerUp) {
  DaemonProcess daemon(ConfigToml(config_));
  int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();
  ASSERT_EQ(WaitForPage(port, ExpectedPage()).body, ExpectedPage()) << daemon.err();
  // A worker's page may show closed_ down a moment before its cycle publishes it.
  ProcessResult check;
  EXPECT_TRUE(Eventually([&] {
    check = RunProcess({std::getenv("UPCHECK_STATUS"), "-c", daemon.config_path(), "--check"});
    return check.out == "OK: 2 upstreams, 3/4 peers up\n";
  })) << check.out;
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

TEST_F(DaemonRunTest, KilledWorkerIsRespawnedAndServesTheRightPage) {
  config_.upstreams[0].interval_ms = 200;
  DaemonProcess daemon(ConfigToml(config_));
  int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();
  ASSERT_EQ(WaitForPage(port, ExpectedPage()).body, ExpectedPage()) << daemon.err();
  ASSERT_TRUE(Eventually([&] { return RunningWorkers(config_.shm_name).size() == 3; }));
  std::set<int32_t> before = RunningWorkers(config_.shm_name);
  int32_t victim = *before.begin();
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  EXPECT_TRUE(daemon.WaitForErr("worker process " + std::to_string(victim) + " exited on signal 9"))
      << daemon.err();
  std::set<int32_t> after;
  ASSERT_TRUE(Eventually(
      [&] {
        after = RunningWorkers(config_.shm_name);
        return after.size() == 3 && after.count(victim) == 0;
      },
      seconds(20)))
      << daemon.err();
  // The new worker's answer is right at once (it syncs from the segment), well within two
  // intervals; ask until the new pid answers.
  int32_t fresh = 0;
  for (int32_t p : after) {
    if (before.count(p) == 0) fresh = p;
  }
  bool fresh_answered = Eventually(
      [&] {
        HttpAnswer a = HttpGet(port, "/status");
        EXPECT_EQ(a.body, ExpectedPage())
            << "answered by worker " << a.headers["x-worker-pid"] << " (fresh " << fresh << ")\n"
            << daemon.err();
        return a.ok && std::stoi(a.headers["x-worker-pid"]) == fresh;
      },
      seconds(30));
  EXPECT_TRUE(fresh_answered) << "the respawned worker " << fresh << " never answered";
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

// A worker that keeps dying right after its start is respawned with a growing delay.
TEST_F(DaemonRunTest, WorkerDyingAtStartIsRespawnedWithBackOff) {
  config_.workers = 1;
  DaemonProcess daemon(ConfigToml(config_));
  ASSERT_GT(daemon.StatusPort(), 0) << daemon.err();
  std::set<int32_t> seen;
  for (int round = 0; round < 3; ++round) {
    std::set<int32_t> now;
    ASSERT_TRUE(Eventually(
        [&] {
          now = RunningWorkers(config_.shm_name);
          return now.size() == 1 && seen.count(*now.begin()) == 0;
        },
        seconds(20)))
        << daemon.err();
    seen.insert(*now.begin());
    kill(*now.begin(), SIGKILL);
  }
  EXPECT_TRUE(
      daemon.WaitForErr("worker 1 exited 2 times in a row within 2 s of its start; "
                        "respawning it in 1 s"))
      << daemon.err();
  EXPECT_TRUE(
      daemon.WaitForErr("worker 1 exited 3 times in a row within 2 s of its start; "
                        "respawning it in 2 s"))
      << daemon.err();
  // It does come back.
  EXPECT_TRUE(
      Eventually([&] { return RunningWorkers(config_.shm_name).size() == 1; }, seconds(20)));
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

TEST_F(DaemonRunTest, WorkersExitWhenTheMasterDies) {
  DaemonProcess daemon(ConfigToml(config_));
  ASSERT_GT(daemon.StatusPort(), 0) << daemon.err();
  ASSERT_TRUE(Eventually([&] { return RunningWorkers(config_.shm_name).size() == 3; }));
  std::set<int32_t> workers = RunningWorkers(config_.shm_name);
  daemon.Signal(SIGKILL);
  EXPECT_EQ(daemon.Wait(), 128 + SIGKILL);
  EXPECT_TRUE(Eventually([&] {
    for (int32_t pid : workers) {
      if (kill(pid, 0) == 0) return false;
    }
    return true;
  })) << "workers outlived their master";
  // The segment stays (nobody removed it); the next start replaces it as stale.
  DaemonProcess next(ConfigToml(config_));
  ASSERT_GT(next.StatusPort(), 0) << next.err();
  EXPECT_TRUE(next.WaitForErr("removing stale segment '" + config_.shm_name + "'")) << next.err();
  EXPECT_EQ(next.Stop(), 0) << next.err();
}

TEST_F(DaemonRunTest, ReloadAddsAPeerAndKeepsTheDownFlags) {
  DaemonProcess daemon(ConfigToml(config_));
  int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();
  ASSERT_EQ(WaitForPage(port, ExpectedPage()).body, ExpectedPage()) << daemon.err();
  std::set<int32_t> old_workers = RunningWorkers(config_.shm_name);

  // The new config probes rarely and needs 5 failures: the closed peer can only show DOWN
  // at first if its `d:` flag was carried over.
  LoopbackHttpServer added(Family::kV4, StatusResponse(200));
  TestConfig next = config_;
  next.workers = 2;
  next.upstreams[0].primary.push_back(added.address());
  next.upstreams[0].interval_ms = 60000;
  next.upstreams[0].fall = 5;
  daemon.Rewrite(ConfigToml(next));
  size_t mark = daemon.err().size();
  daemon.Signal(SIGHUP);
  ASSERT_TRUE(daemon.WaitForErr("reload done", seconds(10), mark)) << daemon.err();
  std::string want = "Upstream app\n    Primary Peers\n        " + up_.address() + " UP\n        " +
                     closed_.address() + " DOWN\n        " + added.address() +
                     " UP\n    Backup Peers\n        " + backup_.address() +
                     " UP\n\nUpstream static (NO checkers)\n    Primary Peers\n" +
                     "        127.0.0.1:1 UP\n    Backup Peers\n";
  HttpAnswer a = WaitForPage(port, want);
  EXPECT_EQ(a.body, want) << daemon.err();
  EXPECT_EQ(old_workers.count(std::stoi(a.headers["x-worker-pid"])), 0u);
  EXPECT_TRUE(Eventually([&] { return RunningWorkers(config_.shm_name).size() == 2; }));
  for (int32_t pid : old_workers) {
    EXPECT_TRUE(
        daemon.WaitForErr("worker process " + std::to_string(pid) + " exited", seconds(10), mark));
  }
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

TEST_F(DaemonRunTest, ReloadWithABrokenConfigKeepsTheRunningOne) {
  DaemonProcess daemon(ConfigToml(config_));
  int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();
  ASSERT_EQ(WaitForPage(port, ExpectedPage()).body, ExpectedPage()) << daemon.err();
  ASSERT_TRUE(Eventually([&] { return RunningWorkers(config_.shm_name).size() == 3; }));
  std::set<int32_t> workers = RunningWorkers(config_.shm_name);

  daemon.Rewrite("[daemon]\nworkers = \"many\"\n");
  size_t mark = daemon.err().size();
  daemon.Signal(SIGHUP);
  ASSERT_TRUE(daemon.WaitForErr("reload failed: ", seconds(10), mark)) << daemon.err();
  std::string tail = daemon.err().substr(mark);
  EXPECT_NE(tail.find("reload failed: " + daemon.config_path() + ":2:11: daemon.workers: "),
            std::string::npos)
      << tail;
  EXPECT_NE(tail.find("; keeping the current configuration\n"), std::string::npos) << tail;
  // Same workers, same pages.
  EXPECT_EQ(RunningWorkers(config_.shm_name), workers);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(HttpGet(port, "/status").body, ExpectedPage());
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

// The numbers the original never validates keep its meaning (protocol.md Q11): fall 0
// turns the closed peer down at its first failure, rise -1 turns a configured-down peer up at
// its first success, interval -5 runs a cycle every 2 ms, concurrency -3 probes in turn.
TEST_F(DaemonRunTest, UnvalidatedNumbersRunAsInTheOriginal) {
  const std::string toml =
      "[shm]\nname = \"" + config_.shm_name +
      "\"\nsize = \"256k\"\n\n[daemon]\nworkers = 1\nlog_level = \"notice\"\n"
      "status_listen = \"127.0.0.1:0\"\n\n[[upstream]]\nname = \"app\"\n"
      "primary = [{ address = \"" +
      up_.address() + "\", down = true }, \"" + closed_.address() +
      "\"]\n\n[upstream.check]\ntype = \"http\"\n"
      "http_req = \"GET /health HTTP/1.0\\r\\nHost: test\\r\\n\\r\\n\"\n"
      "interval = -5\nfall = 0\nrise = -1\nconcurrency = -3\nvalid_statuses = [200]\n";
  DaemonProcess daemon(toml);
  int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();
  EXPECT_TRUE(daemon.WaitForErr("healthcheck: peer " + closed_.address() +
                                " is turned down after 1 failure(s)"))
      << daemon.err();
  EXPECT_TRUE(
      daemon.WaitForErr("healthcheck: peer " + up_.address() + " is turned up after 1 success(es)"))
      << daemon.err();
  // In list order, one at a time: up_ turns up while closed_ is still up, then closed_ down.
  // Each needle runs from the message's start to the end of its line.
  for (const std::string& line :
       {"healthcheck: peer " + up_.address() +
            " is turned up after 1 success(es), upstream: \"app\", primaries up: 2/2\n",
        "healthcheck: peer " + closed_.address() +
            " is turned down after 1 failure(s), upstream: \"app\", primaries up: 1/2\n",
        "healthcheck: failed to connect to " + closed_.address() +
            ": connection refused, upstream: \"app\"\n"}) {
    EXPECT_TRUE(daemon.WaitForErr(line)) << line << daemon.err();
  }
  const std::string want = "Upstream app\n    Primary Peers\n        " + up_.address() +
                           " UP\n        " + closed_.address() + " DOWN\n    Backup Peers\n";
  EXPECT_EQ(WaitForPage(port, want).body, want) << daemon.err();
  // A cycle every 2 ms: 200 checks of a peer come well within the deadline (at the default
  // interval of 1 s they would take over three minutes).
  int64_t checks = 0;
  EXPECT_TRUE(Eventually([&] {
    HttpAnswer a = HttpGet(port, "/status.json");
    if (!a.ok) return false;
    nlohmann::json page = nlohmann::json::parse(a.body, nullptr, false);
    if (page.is_discarded()) return false;
    checks = page["upstreams"][0]["peers"][1].value("checks", int64_t{0});
    return checks >= 200;
  })) << "checks of the closed peer: "
      << checks;
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

// Warnings do not stop the daemon: printed at start, logged again by a reload of the file.
TEST_F(DaemonRunTest, WarningsArePrintedAtStartAndLoggedByAReload) {
  config_.upstreams[0].fall = 0;
  DaemonProcess daemon(ConfigToml(config_));
  ASSERT_GT(daemon.StatusPort(), 0) << daemon.err();
  const std::string warning =
      ": warning: upstream[0].check.fall: fall 0 turns a peer down at its first failure, as "
      "fall = 1 does\n";
  // The first line, before the master's own: "<file>:<line>:<col>: warning: ...".
  const std::string first = daemon.err().substr(0, daemon.err().find('\n') + 1);
  EXPECT_EQ(first.rfind(daemon.config_path() + ":", 0), 0u) << daemon.err();
  EXPECT_NE(first.find(warning), std::string::npos) << daemon.err();
  size_t mark = daemon.err().size();
  daemon.Signal(SIGHUP);
  ASSERT_TRUE(daemon.WaitForErr("reload done", seconds(10), mark)) << daemon.err();
  const std::string tail = daemon.err().substr(mark);
  const size_t logged = tail.find(warning);
  ASSERT_NE(logged, std::string::npos) << tail;
  const std::string line = tail.substr(tail.rfind('\n', logged) + 1);
  EXPECT_NE(line.find(" [warn] "), std::string::npos) << line;
  EXPECT_NE(line.find(": " + daemon.config_path() + ":"), std::string::npos) << line;
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

// A reload validates the new file as --test does: a trust store the workers could not load
// is refused and the running configuration stays.
TEST_F(DaemonRunTest, ReloadWithAMissingCaFileKeepsTheRunningOne) {
  DaemonProcess daemon(ConfigToml(config_));
  int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();
  ASSERT_EQ(WaitForPage(port, ExpectedPage()).body, ExpectedPage()) << daemon.err();
  ASSERT_TRUE(Eventually([&] { return RunningWorkers(config_.shm_name).size() == 3; }));
  std::set<int32_t> workers = RunningWorkers(config_.shm_name);

  const std::string ca = daemon.dir() + "/missing-ca.pem";
  std::string toml = ConfigToml(config_);
  // The last upstream ("static", unchecked so far) gets an https check whose trust store does not
  // exist.
  toml +=
      "[upstream.check]\ntype = \"https\"\nhttp_req = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n"
      "host = \"localhost\"\nca_file = \"" +
      ca + "\"\n";
  daemon.Rewrite(toml);
  size_t mark = daemon.err().size();
  daemon.Signal(SIGHUP);
  ASSERT_TRUE(daemon.WaitForErr("reload failed: ", seconds(10), mark)) << daemon.err();
  std::string tail = daemon.err().substr(mark);
  EXPECT_NE(tail.find("upstream[1].check.ca_file: failed to load ca_file \"" + ca + "\": "),
            std::string::npos)
      << tail;
  EXPECT_NE(tail.find("; keeping the current configuration\n"), std::string::npos) << tail;
  EXPECT_EQ(RunningWorkers(config_.shm_name), workers);
  EXPECT_EQ(HttpGet(port, "/status").body, ExpectedPage());
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

TEST_F(DaemonRunTest, SigtermStopsWorkersAndRemovesTheSegment) {
  DaemonProcess daemon(ConfigToml(config_));
  ASSERT_GT(daemon.StatusPort(), 0) << daemon.err();
  ASSERT_TRUE(Eventually([&] { return RunningWorkers(config_.shm_name).size() == 3; }));
  std::set<int32_t> workers = RunningWorkers(config_.shm_name);
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  for (int32_t pid : workers) {
    EXPECT_NE(daemon.err().find("worker process " + std::to_string(pid) + " exited with code 0"),
              std::string::npos)
        << daemon.err();
    EXPECT_NE(kill(pid, 0), 0) << "worker " << pid << " outlived the master";
  }
  Result<std::unique_ptr<Segment>> seg = Segment::Open(config_.shm_name);
  ASSERT_FALSE(seg.ok());
  EXPECT_NE(seg.error().find("not found"), std::string::npos) << seg.error();
}

TEST_F(DaemonRunTest, PersistKeepsDownFlagsAcrossARestart) {
  config_.persist = true;
  {
    DaemonProcess daemon(ConfigToml(config_));
    int port = daemon.StatusPort();
    ASSERT_GT(port, 0) << daemon.err();
    ASSERT_EQ(WaitForPage(port, ExpectedPage()).body, ExpectedPage()) << daemon.err();
    EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  }
  Result<std::unique_ptr<Segment>> kept = Segment::Open(config_.shm_name);
  ASSERT_TRUE(kept.ok()) << kept.error();
  std::string flag = "d:app:p1";
  auto value = (*kept)->dict().Get(flag);
  ASSERT_TRUE(value.ok() && value->has_value()) << flag << " is gone";
  kept->reset();

  // Rare probes that need 5 failures: DOWN at once means the flag survived.
  config_.upstreams[0].interval_ms = 60000;
  config_.upstreams[0].fall = 5;
  DaemonProcess again(ConfigToml(config_));
  int port = again.StatusPort();
  ASSERT_GT(port, 0) << again.err();
  EXPECT_TRUE(again.WaitForErr("reattached to segment '" + config_.shm_name + "'")) << again.err();
  EXPECT_EQ(WaitForPage(port, ExpectedPage()).body, ExpectedPage()) << again.err();
  EXPECT_EQ(again.Stop(), 0) << again.err();
}

}  // namespace
}  // namespace upcheck::testing
