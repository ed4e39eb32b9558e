// The fleet tier end to end (DESIGN §11): three upcheckd "hosts" (three configs, three
// segments) and one real redis-server on loopback. Probes are counted at the backend and
// set against the hosts' own cycle counts (each worker ticks once per interval), so that a
// loaded machine stretches both sides alike.
#include <gtest/gtest.h>
#include <signal.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon_process.h"
#include "loopback_http_server.h"
#include "redis_server.h"
#include "slow_tool.h"
#include "test_names.h"
#include "upcheck/internal/registry.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

constexpr int kWorkers = 2;

struct HostView {
  uint64_t cycles = 0;  // every worker's, summed
  FleetRole role = FleetRole::kNone;
  double fleet_version = 0;
  uint64_t fallbacks = 0;
  double published = 0;
};

std::optional<HostView> View(const std::string& shm) {
  Result<std::unique_ptr<Segment>> seg = Segment::Open(shm);
  if (!seg.ok()) return std::nullopt;
  Result<Registry> reg = Registry::Attach(**seg);
  if (!reg.ok()) return std::nullopt;
  const std::optional<size_t> u = reg->FindUpstream("app");
  if (!u) return std::nullopt;
  HostView v;
  for (const WorkerRow& row : reg->Workers()) v.cycles += row.cycles;
  v.role = reg->fleet_role(*u);
  v.fleet_version = reg->fleet_version(*u);
  v.fallbacks = reg->fleet_fallbacks(*u);
  v.published = reg->published_version(*u);
  return v;
}

class DaemonFleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
    ASSERT_TRUE(a_.ok() && b_.ok());
    ASSERT_TRUE(redis_.Start().ok());
  }
  void TearDown() override {
    hosts_.clear();
    for (const std::string& shm : shms_) (void)Segment::Remove(shm);
  }

  // Host i ("h1".."h3"): app = {a, b}, interval 100, fall = rise = 1, with or without the fleet.
  // fleet = false: the same hosts on their own.
  void StartHosts(int n, bool fleet = true, int interval_ms = 100, int64_t redis_timeout_ms = 500) {
    for (int i = 1; i <= n; ++i) {
      TestConfig c;
      c.shm_name = UniqueSegmentName("fleet" + std::to_string(i));
      c.workers = kWorkers;
      c.upstreams = {{.name = "app",
                      .primary = {a_.address(), b_.address()},
                      .interval_ms = interval_ms,
                      .balancer_listen = "127.0.0.1:0"}};
      if (fleet) {
        c.fleet_toml = "[fleet]\nredis = \"" + redis_.address() + "\"\nhost_id = \"h" +
                       std::to_string(i) + "\"\ntimeout = " + std::to_string(redis_timeout_ms) +
                       "\n";
      }
      shms_.push_back(c.shm_name);
      hosts_.push_back(std::make_unique<DaemonProcess>(ConfigToml(c)));
    }
    for (auto& host : hosts_) ASSERT_GT(host->StatusPort(), 0) << host->err();
  }

  std::string RedisGet(const std::string& key) {
    Result<std::string> r = redis_.Run({"GET", key});
    return r.ok() ? *r : "error: " + r.error();
  }
  std::string Holder() { return RedisGet("upcheck:l:app"); }

  // Whether host i's status page says b is `state` ("UP"/"DOWN").
  bool PageSays(size_t i, const std::string& state) {
    HttpAnswer page = HttpGet(hosts_[i]->StatusPort(), "/status");
    return page.ok && page.body.find(b_.address() + " " + state + "\n") != std::string::npos;
  }

  uint64_t TotalCycles() {
    uint64_t sum = 0;
    for (const std::string& shm : shms_) sum += View(shm).value_or(HostView{}).cycles;
    return sum;
  }

  // Bodies that tell the balancer's picks apart.
  static std::string Answer(int status, char body) {
    return "HTTP/1.0 " + std::to_string(status) + " X\r\nContent-Length: 1\r\n\r\n" + body;
  }
  LoopbackHttpServer a_{Family::kV4, Answer(200, 'A')};
  LoopbackHttpServer b_{Family::kV4, Answer(200, 'B')};
  RedisServer redis_;
  std::vector<std::string> shms_;
  std::vector<std::unique_ptr<DaemonProcess>> hosts_;
};

// Without the fleet every host's lock winner probes each peer once per interval, and each
// host's kWorkers workers tick once per interval each: probes/cycles is 1/kWorkers (seen:
// 150 probes in 300 cycles). With it one host probes for all three: 1/(3·kWorkers) (seen:
// 50 in 300). The bound sits between the two.
TEST_F(DaemonFleetTest, BackendSeesOneProbePerIntervalAcrossThreeHosts) {
  StartHosts(3);
  ASSERT_TRUE(Eventually([&] { return Holder().starts_with("h"); })) << Holder();
  ASSERT_TRUE(Eventually([&] { return TotalCycles() >= 30; })) << hosts_[0]->err();
  const uint64_t cycles0 = TotalCycles();
  const int probes0 = a_.requests();
  ASSERT_TRUE(Eventually([&] { return TotalCycles() >= cycles0 + 300; }, milliseconds(60000)));
  const int probes = a_.requests() - probes0;
  const double cycles = static_cast<double>(TotalCycles() - cycles0);
  const double per_cycle = probes / cycles;
  EXPECT_LT(per_cycle, 0.5 * (1.0 / (3 * kWorkers) + 1.0 / kWorkers))
      << probes << " probes in " << cycles << " cycles: every host probes";
  EXPECT_GT(per_cycle, 0.5 / (3 * kWorkers)) << probes << " probes in " << cycles << " cycles";
  int winners = 0;
  for (const std::string& shm : shms_) {
    const HostView v = View(shm).value_or(HostView{});
    EXPECT_NE(v.role, FleetRole::kAlone);
    EXPECT_NE(v.role, FleetRole::kNone);
    winners += v.role == FleetRole::kWinner ? 1 : 0;
  }
  EXPECT_LE(winners, 2) << "at most the holder and one taking over from it";
}

// A transition one host makes reaches the others' pages and balancers within about one of
// their intervals: counted in their cycles (kWorkers per interval), with room for the poll.
TEST_F(DaemonFleetTest, TransitionReachesEveryHostsPagesAndBalancer) {
  StartHosts(3);
  for (size_t i = 0; i < hosts_.size(); ++i) {
    ASSERT_TRUE(Eventually([&] {
      return View(shms_[i]).value_or(HostView{}).role == FleetRole::kFollower ||
             View(shms_[i]).value_or(HostView{}).role == FleetRole::kWinner;
    })) << hosts_[i]->err();
    ASSERT_TRUE(PageSays(i, "UP"));
  }
  const std::string before = RedisGet("upcheck:v:app");
  std::vector<uint64_t> start(hosts_.size());
  b_.SetResponse(Answer(500, 'B'));
  ASSERT_TRUE(Eventually([&] { return RedisGet("upcheck:v:app") != before; })) << before << "\n"
                                                                               << hosts_[0]->err();
  for (size_t i = 0; i < hosts_.size(); ++i) start[i] = View(shms_[i])->cycles;
  const double version = std::stod(RedisGet("upcheck:v:app"));
  for (size_t i = 0; i < hosts_.size(); ++i) {
    ASSERT_TRUE(Eventually([&] { return View(shms_[i])->fleet_version >= version; }))
        << "host " << i + 1 << ": " << hosts_[i]->err();
    const uint64_t took = View(shms_[i])->cycles - start[i];
    EXPECT_LE(took, 3u * kWorkers) << "host " << i + 1 << " copied after " << took << " cycles";
    EXPECT_TRUE(Eventually([&] { return PageSays(i, "DOWN"); }));
    const int port = hosts_[i]->BalancerPort("app");
    for (int k = 0; k < 6; ++k) {
      EXPECT_EQ(ThroughBalancer(port), "A") << "host " << i + 1;
    }
  }
  EXPECT_EQ(RedisGet("upcheck:d:app:" + b_.address()), "1");
}

// SIGKILL the host holding the fleet lock, master and workers: its lock expires (the
// cycle's TTL) and another host takes it and probes on.
TEST_F(DaemonFleetTest, KilledWinnerIsReplacedAfterTheLockTtl) {
  StartHosts(3);
  std::string holder;
  ASSERT_TRUE(Eventually([&] { return (holder = Holder()).starts_with("h"); })) << holder;
  const size_t k = static_cast<size_t>(std::stoi(holder.substr(1)) - 1);
  ASSERT_LT(k, hosts_.size());
  for (int32_t pid : RunningWorkers(shms_[k])) kill(pid, SIGKILL);
  hosts_[k]->Signal(SIGKILL);
  ASSERT_TRUE(Eventually([&] {
    const std::string now = Holder();
    return now.starts_with("h") && now != holder;
  })) << Holder();
  const int probes = a_.requests();
  EXPECT_TRUE(a_.WaitForRequests(probes + 5, Slow(milliseconds(10000))));
  // The new winner also makes the transitions: b turns down on the survivors.
  b_.SetResponse(Answer(500, 'B'));
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (i == k) continue;
    EXPECT_TRUE(Eventually([&] { return PageSays(i, "DOWN"); })) << i;
  }
}

// A winner that kept the fleet lock probes at once, its cycle's round trip to Redis in
// flight: a Redis that is slow to answer delays none of its probes. Seen as a probe the
// backend gets while Redis is frozen, before the host gives up on Redis (its timeout).
TEST_F(DaemonFleetTest, AWinnerHoldingTheLockProbesWithoutWaitingForRedis) {
  StartHosts(1, true, 1000, 30000);
  ASSERT_TRUE(Eventually([&] { return Holder() == "h1"; })) << Holder();
  ASSERT_TRUE(a_.WaitForRequests(a_.requests() + 2, Slow(milliseconds(10000))));
  // Freeze Redis just after it extended the hold (two cycles and a half) for the latest
  // start: its answer to that start is written by then, and the next start is one the host
  // makes at once (or without asking at all).
  ASSERT_TRUE(Eventually([&] {
    Result<std::string> ttl = redis_.Run({"PTTL", "upcheck:l:app"});
    return ttl.ok() && std::stoll(*ttl) > 1400;
  }));
  redis_.Pause();
  const int probes = a_.requests();
  const bool probed = a_.WaitForRequests(probes + 1, Slow(milliseconds(10000)));
  const uint64_t fallbacks = View(shms_[0]).value_or(HostView{}).fallbacks;
  redis_.Resume();
  EXPECT_TRUE(probed) << "no probe while Redis was silent";
  EXPECT_EQ(fallbacks, 0u) << "probed only once Redis had timed out";
  EXPECT_EQ(hosts_[0]->err().find("probing alone"), std::string::npos) << hosts_[0]->err();
  EXPECT_TRUE(a_.WaitForRequests(probes + 2, Slow(milliseconds(10000))));
  EXPECT_EQ(View(shms_[0]).value_or(HostView{}).role, FleetRole::kWinner);
}

// A winner whose hold outlasts its next start does not ask Redis then: a steady fleet
// costs its winner one round trip every other cycle. Counted by Redis (the hold script
// runs once per start request) against the cycles the backend saw.
TEST_F(DaemonFleetTest, ASteadyWinnerAsksRedisEveryOtherCycle) {
  StartHosts(1, true, 500);
  ASSERT_TRUE(Eventually([&] { return Holder() == "h1"; })) << Holder();
  ASSERT_TRUE(a_.WaitForRequests(a_.requests() + 2, Slow(milliseconds(10000))));
  ASSERT_TRUE(redis_.Run({"CONFIG", "RESETSTAT"}).ok());
  const int probes0 = a_.requests();
  ASSERT_TRUE(a_.WaitForRequests(probes0 + 10, Slow(milliseconds(30000))));
  const int cycles = a_.requests() - probes0;
  Result<std::string> info = redis_.Run({"INFO", "commandstats"});
  ASSERT_TRUE(info.ok()) << info.error();
  const size_t at = info->find("cmdstat_eval:calls=");
  ASSERT_NE(at, std::string::npos) << "no start request at all\n" << *info;
  const int asks = std::stoi(info->substr(at + std::string_view("cmdstat_eval:calls=").size()));
  EXPECT_LE(asks, cycles * 6 / 10 + 1) << asks << " start requests in " << cycles << " cycles";
  EXPECT_EQ(View(shms_[0]).value_or(HostView{}).role, FleetRole::kWinner);
  EXPECT_EQ(hosts_[0]->err().find("probing alone"), std::string::npos) << hosts_[0]->err();
}

// Redis gone: every host falls back (once, at warn), keeps checking on its own, and
// rejoins when Redis answers again, an empty Redis that the winner refills.
TEST_F(DaemonFleetTest, RedisStoppedEveryHostChecksAloneThenRejoins) {
  StartHosts(3);
  ASSERT_TRUE(Eventually([&] { return Holder().starts_with("h"); })) << Holder();
  redis_.Stop();
  for (size_t i = 0; i < hosts_.size(); ++i) {
    EXPECT_TRUE(hosts_[i]->WaitForErr("; probing alone, upstream: \"app\"")) << hosts_[i]->err();
    EXPECT_TRUE(Eventually([&] { return View(shms_[i])->role == FleetRole::kAlone; }));
  }
  // Alone, each host still turns b down by itself.
  b_.SetResponse(Answer(500, 'B'));
  for (size_t i = 0; i < hosts_.size(); ++i) {
    EXPECT_TRUE(Eventually([&] { return PageSays(i, "DOWN"); })) << i;
  }
  for (size_t i = 0; i < hosts_.size(); ++i) {
    const std::string err = hosts_[i]->err();
    const size_t first = err.find("probing alone");
    EXPECT_EQ(err.find("probing alone", first + 1), std::string::npos) << "said once\n" << err;
    EXPECT_EQ(View(shms_[i])->fallbacks, 1u);
  }
  ASSERT_TRUE(redis_.Start().ok());
  for (size_t i = 0; i < hosts_.size(); ++i) {
    EXPECT_TRUE(hosts_[i]->WaitForErr("back in the fleet")) << hosts_[i]->err();
  }
  // The winner republishes its view into the empty Redis: b is down there too.
  EXPECT_TRUE(Eventually([&] { return RedisGet("upcheck:d:app:" + b_.address()) == "1"; }));
  for (size_t i = 0; i < hosts_.size(); ++i) EXPECT_TRUE(PageSays(i, "DOWN")) << i;
}

// FLUSHALL while b is down: no host reads b as up at any point, and the fleet's keys come
// back from the winner's view.
TEST_F(DaemonFleetTest, FlushedRedisIsRestoredAndNoDownPeerReadsUp) {
  StartHosts(3);
  b_.SetResponse(Answer(500, 'B'));
  ASSERT_TRUE(Eventually([&] { return RedisGet("upcheck:d:app:" + b_.address()) == "1"; }));
  for (size_t i = 0; i < hosts_.size(); ++i) {
    ASSERT_TRUE(Eventually([&] { return PageSays(i, "DOWN"); })) << i;
  }
  ASSERT_TRUE(redis_.FlushAll().ok());
  const uint64_t from = TotalCycles();
  bool restored = false;
  while (TotalCycles() < from + 10 * 3 * kWorkers) {
    for (size_t i = 0; i < hosts_.size(); ++i) ASSERT_FALSE(PageSays(i, "UP")) << i;
    restored = restored || RedisGet("upcheck:d:app:" + b_.address()) == "1";
  }
  EXPECT_TRUE(restored ||
              Eventually([&] { return RedisGet("upcheck:d:app:" + b_.address()) == "1"; }));
  EXPECT_NE(RedisGet("upcheck:v:app"), "(nil)");
}

// FLUSHALL just after a start request, then a turns down: the next cycle, whose hold
// outlasts it, probes without asking, and asks before it publishes. So the version it
// writes goes past the one the hosts held (an INCR into the empty Redis would start again
// at 1), and comes with b's flag as well as a's.
TEST_F(DaemonFleetTest, AFlushBeforeACycleThatDidNotAskStillMovesTheVersionOn) {
  StartHosts(1, true, 500);
  b_.SetResponse(Answer(500, 'B'));
  ASSERT_TRUE(Eventually([&] { return RedisGet("upcheck:d:app:" + b_.address()) == "1"; }));
  const std::string before = RedisGet("upcheck:v:app");
  ASSERT_NE(before, "(nil)");
  // Within a quarter cycle of a start request: the hold (1250 ms) outlasts the next start.
  ASSERT_TRUE(Eventually([&] {
    Result<std::string> ttl = redis_.Run({"PTTL", "upcheck:l:app"});
    return ttl.ok() && std::stoll(*ttl) > 1000;
  }));
  ASSERT_TRUE(redis_.FlushAll().ok());
  a_.SetResponse(Answer(500, 'A'));
  std::string after;
  ASSERT_TRUE(Eventually([&] { return (after = RedisGet("upcheck:v:app")) != "(nil)"; }));
  EXPECT_GT(std::stod(after), std::stod(before));
  EXPECT_EQ(RedisGet("upcheck:d:app:" + b_.address()), "1");
  EXPECT_TRUE(Eventually([&] { return RedisGet("upcheck:d:app:" + a_.address()) == "1"; }));
}

}  // namespace
}  // namespace upcheck::testing
