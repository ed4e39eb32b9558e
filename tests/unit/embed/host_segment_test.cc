// What a host server (nginx's module) gets beyond a dict-only segment: a registry the tools
// read, a worker row per set, a reload that carries the dict, removal that spares a newer
// segment of the same name, the peer-change hook, and validation before anything exists.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "loopback_http_server.h"
#include "test_names.h"
#include "upcheck.h"
#include "upcheck/checker_set.h"
#include "upcheck/health_shm.h"
#include "upcheck/internal/registry.h"

namespace upcheck {
namespace {

std::vector<HostUpstream> FooCom() {
  CheckOptions check;
  check.type = "http";
  check.http_req = "GET / HTTP/1.0\r\n\r\n";
  return {{"foo.com", {{"127.0.0.1:1"}, {"127.0.0.1:2", true}}, {{"127.0.0.1:3"}}, check},
          {"bar.com", {{"[::1]:4"}}, {}, std::nullopt}};
}

class HostSegmentTest : public ::testing::Test {
 protected:
  void SetUp() override { uv_loop_init(&loop_); }
  void TearDown() override {
    while (uv_run(&loop_, UV_RUN_DEFAULT) != 0) {
    }
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    (void)Segment::Remove(name_);
  }
  HealthShm Make(const HealthShm* carry = nullptr, size_t size = 1 << 20) {
    auto shm = HealthShm::CreateForHost({.name = name_, .size = size, .replace = true}, FooCom(), 4,
                                        carry);
    EXPECT_TRUE(shm.ok()) << shm.error();
    return *shm;
  }

  std::string name_ = testing::UniqueSegmentName("host");
  uv_loop_t loop_;
};

TEST_F(HostSegmentTest, TheToolsSeeTheHostsUpstreamsAndPeers) {
  HealthShm shm = Make();
  auto opened = Segment::Open(name_);  // what upcheck-status does
  ASSERT_TRUE(opened.ok()) << opened.error();
  auto registry = Registry::Attach(**opened);
  ASSERT_TRUE(registry.ok()) << registry.error();
  ASSERT_EQ(registry->upstream_count(), 2u);
  EXPECT_EQ(registry->upstream_name(0), "foo.com");
  EXPECT_TRUE(registry->has_check(0));
  EXPECT_FALSE(registry->has_check(1));
  ASSERT_EQ(registry->peer_count(0), 3u);
  EXPECT_TRUE(registry->peer(0, 1).configured_down);
  EXPECT_TRUE(registry->peer(0, 2).backup);
}

TEST_F(HostSegmentTest, ASetTakesAWorkerRowAndGivesItBack) {
  HealthShm shm = Make();
  auto registry = Registry::Attach(shm.segment());
  ASSERT_TRUE(registry.ok());
  {
    auto set = CheckerSet::Create(&loop_, shm);
    ASSERT_TRUE(set.ok());
    std::vector<WorkerRow> rows = registry->Workers();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].pid, getpid());
    EXPECT_EQ(rows[0].state, WorkerState::kRunning);
  }
  EXPECT_TRUE(registry->Workers().empty());
}

TEST_F(HostSegmentTest, RowsOfDeadWorkersAreReclaimed) {
  HealthShm shm = Make();
  auto registry = Registry::Attach(shm.segment());
  ASSERT_TRUE(registry.ok());
  pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  ASSERT_TRUE(registry->ClaimWorkerSlot(child).ok());  // a worker that died with its row
  ASSERT_TRUE(registry->ClaimWorkerSlot(getpid()).ok());
  EXPECT_EQ(registry->ReclaimDeadWorkerSlots(), 1u);
  std::vector<WorkerRow> rows = registry->Workers();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].pid, getpid());
}

TEST_F(HostSegmentTest, AReloadCarriesTheDictAsItIs) {
  HealthShm old = Make();
  ASSERT_TRUE(old.segment().dict().Set("d:foo.com:p0", DictValue{true}).ok());
  ASSERT_TRUE(old.segment().dict().Set("v:foo.com", DictValue{3.0}).ok());
  ASSERT_TRUE(old.segment().dict().Set("l:foo.com", DictValue{true}, 60000).ok());
  HealthShm next = Make(&old);
  SharedDict& dict = next.segment().dict();
  EXPECT_EQ(std::get<bool>(**dict.Get("d:foo.com:p0")), true);
  EXPECT_EQ(std::get<double>(**dict.Get("v:foo.com")), 3.0);
  auto ttl = dict.Ttl("l:foo.com");
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(*ttl, 0);  // the lock keeps its remaining time
}

TEST_F(HostSegmentTest, RemovalSparesANewerSegmentOfTheSameName) {
  HealthShm old = Make();
  HealthShm newer = Make();  // a binary upgrade's new master
  ASSERT_TRUE(old.RemoveIfCurrent().ok());
  EXPECT_TRUE(Segment::Open(name_).ok());
  ASSERT_TRUE(newer.RemoveIfCurrent().ok());
  EXPECT_FALSE(Segment::Open(name_).ok());
}

TEST_F(HostSegmentTest, ThePeerHookSeesChangesOnly) {
  HealthShm shm = Make();
  std::vector<std::tuple<size_t, bool, uint32_t, bool>> seen;
  CheckerSet::Options options;
  options.on_peer_change = [&](size_t u, bool backup, uint32_t id, bool down) {
    seen.emplace_back(u, backup, id, down);
  };
  auto set = CheckerSet::Create(&loop_, shm, std::move(options));
  ASSERT_TRUE(set.ok());
  ASSERT_TRUE((*set)->AddUpstream("bar.com", {{"[::1]:4"}}, {{"[::1]:5"}}, std::nullopt).ok());
  ASSERT_TRUE((*set)->view().SetPeerDown("bar.com", true, 0, true).ok());
  ASSERT_TRUE((*set)->view().SetPeerDown("bar.com", true, 0, true).ok());  // no change
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::make_tuple(size_t{0}, true, uint32_t{0}, true));
}

// nginx's pick path (SyncUpstream, then nginx's own rr pick): an admin state written by
// another process reaches the hook as the effective down flag at the next sync, and one
// whose expiry passed falls back to the checks without anybody clearing it.
TEST_F(HostSegmentTest, AdminStatesReachTheHostAtTheNextSync) {
  HealthShm shm = Make();
  std::vector<std::tuple<size_t, bool, uint32_t, bool>> seen;
  CheckerSet::Options options;
  options.on_peer_change = [&](size_t u, bool backup, uint32_t id, bool down) {
    seen.emplace_back(u, backup, id, down);
  };
  auto set = CheckerSet::Create(&loop_, shm, std::move(options));
  ASSERT_TRUE(set.ok());
  ASSERT_TRUE((*set)->AddUpstream("bar.com", {{"[::1]:4"}}, {}, std::nullopt).ok());
  auto registry = Registry::Attach(shm.segment());  // what upcheck-shmctl does
  ASSERT_TRUE(registry.ok());
  PeerAdmin drain;
  drain.state = AdminState::kDrain;
  ASSERT_TRUE(registry->SetAdmin(1, false, 0, drain).ok());
  (*set)->SyncUpstream(0);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::make_tuple(size_t{0}, false, uint32_t{0}, true));
  EXPECT_FALSE((*set)->Pick("bar.com"));
  EXPECT_FALSE((*set)->view().primary_peers(0)[0].down);  // the checks' verdict stands

  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  PeerAdmin expiring;
  expiring.state = AdminState::kDown;
  expiring.expires_ms = now + 50;
  ASSERT_TRUE(registry->SetAdmin(1, false, 0, expiring).ok());
  (*set)->SyncUpstream(0);
  EXPECT_EQ(seen.size(), 1u);  // still not pickable: nothing to tell
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (seen.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    (*set)->SyncUpstream(0);
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], std::make_tuple(size_t{0}, false, uint32_t{0}, false));
  EXPECT_TRUE((*set)->Pick("bar.com"));
}

// A set records its probes in the registry: a body that does not match expect_body counts
// under "body" on the set's /metrics and /status.json (real probes of a loopback backend).
TEST_F(HostSegmentTest, ABodyMismatchCountsUnderBody) {
  testing::LoopbackHttpServer backend(testing::Family::kV4,
                                      "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnope");
  ASSERT_TRUE(backend.ok());
  CheckOptions check;
  check.type = "http";
  check.http_req = "GET / HTTP/1.0\r\n\r\n";
  check.expect_body = "\"status\":\"ok\"";
  check.interval_ms = 10;
  const std::vector<HostUpstream> upstreams = {{"app", {{backend.address()}}, {}, check}};
  auto shm = HealthShm::CreateForHost({.name = name_, .size = 1 << 20, .replace = true}, upstreams,
                                      4, nullptr);
  ASSERT_TRUE(shm.ok()) << shm.error();
  int bodies = 0;
  CheckerSet::Options options;
  options.on_check = [&](const PeerCheckEvent& e) { bodies += e.kind == ProbeKind::kBody; };
  auto set = CheckerSet::Create(&loop_, *shm, std::move(options));
  ASSERT_TRUE(set.ok()) << set.error();
  ASSERT_TRUE((*set)->AddUpstream("app", {{backend.address()}}, {}, check).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (bodies < 3 && std::chrono::steady_clock::now() < deadline) {
    uv_run(&loop_, UV_RUN_ONCE);
  }
  ASSERT_GE(bodies, 3);
  std::string metrics, json;
  (*set)->AppendStatus(StatusFormat::kPrometheus, metrics);
  (*set)->AppendStatus(StatusFormat::kJson, json);
  EXPECT_NE(metrics.find("upcheck_peer_check_failures_total{upstream=\"app\",peer=\"" +
                         backend.address() + "\",role=\"primary\",result=\"body\"} " +
                         std::to_string(bodies) + "\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(json.find("\"failures_by_result\":{\"body\":" + std::to_string(bodies) + "}"),
            std::string::npos)
      << json;
}

TEST(HostValidationTest, SaysWhatSpawnWouldSayBeforeAnythingExists) {
  const char* none[] = {nullptr};
  EXPECT_EQ(upcheck_validate_check(none, 0), UPCHECK_ECONFIG);
  EXPECT_STREQ(upcheck_last_error(), "\"type\" option required");
  const char* udp[] = {"type=udp"};
  EXPECT_EQ(upcheck_validate_check(udp, 1), UPCHECK_ECONFIG);
  EXPECT_STREQ(upcheck_last_error(), "only \"http\" and \"https\" type are supported right now");
  const char* negative[] = {"type=http", "http_req=GET / HTTP/1.0\r\n\r\n", "timeout=-1"};
  EXPECT_EQ(upcheck_validate_check(negative, 3), UPCHECK_ECONFIG);
  EXPECT_STREQ(upcheck_last_error(), "\"timeout\" option must be >= 0");
  const char* good[] = {"type=http", "http_req=GET / HTTP/1.0\r\n\r\n", "valid_statuses="};
  EXPECT_EQ(upcheck_validate_check(good, 3), UPCHECK_OK);
  EXPECT_EQ(upcheck_validate_shm("healthcheck", 4096), UPCHECK_ECONFIG);
  EXPECT_STREQ(upcheck_last_error(), "size must be between 8k and 1024m, got 4k");
  EXPECT_EQ(upcheck_validate_shm("bad/name", 1 << 20), UPCHECK_ECONFIG);
  EXPECT_EQ(upcheck_validate_shm("healthcheck", 1 << 20), UPCHECK_OK);
}

}  // namespace
}  // namespace upcheck
