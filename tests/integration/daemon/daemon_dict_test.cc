// upcheckd's dict as the original's lua_shared_dict: shm.size is the dict's capacity (a 64k
// dict starts, holds the protocol's keys and evicts the oldest entries when full), and a
// SIGHUP carries the dict over by position (protocol.md Q6) or, with reload_state =
// "by_peer", with each peer. Real binary ($UPCHECKD), loopback backends on port 0; every
// wait is for an event (a key, a page, a log line) with a deadline.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "daemon_process.h"
#include "loopback_http_server.h"
#include "test_names.h"
#include "upcheck/internal/registry.h"
#include "upcheck/internal/segment_setup.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

using std::chrono::seconds;

class DaemonDictTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
    ASSERT_TRUE(up_.ok() && flap_.ok() && closed_.ok());
    config_.shm_name = UniqueSegmentName("dict");
    config_.workers = 2;
  }
  void TearDown() override { (void)Segment::Remove(config_.shm_name); }

  // The live entries whose key starts with `prefix`, read without touching the LRU order;
  // empty when the segment cannot be opened.
  std::map<std::string, DictValue> Entries(const std::string& prefix) const {
    std::map<std::string, DictValue> out;
    Result<std::unique_ptr<Segment>> seg = Segment::Open(config_.shm_name);
    if (!seg.ok()) return out;
    for (DictEntry& e : (*seg)->dict().Snapshot(prefix)) out.emplace(e.key, std::move(e.value));
    return out;
  }
  std::set<std::string> Keys(const std::string& prefix) const {
    std::set<std::string> keys;
    for (const auto& [key, value] : Entries(prefix)) keys.insert(key);
    return keys;
  }
  double Number(const std::string& key) const {
    std::map<std::string, DictValue> e = Entries(key);
    auto it = e.find(key);
    const double* d = it == e.end() ? nullptr : std::get_if<double>(&it->second);
    return d == nullptr ? -1 : *d;
  }

  // Every worker shows `want`: four answers in a row, whichever workers gave them.
  static bool PagesShow(int port, const std::string& want) {
    for (int i = 0; i < 4; ++i) {
      HttpAnswer a = HttpGet(port, "/status");
      if (!a.ok || a.body != want) return false;
    }
    return true;
  }

  // One upstream's block of the status page: peers as (address, down).
  static std::string Block(const std::string& name,
                           const std::vector<std::pair<std::string, bool>>& primary) {
    std::string page = "Upstream " + name + "\n    Primary Peers\n";
    for (const auto& [address, down] : primary) {
      page += "        " + address + (down ? " DOWN\n" : " UP\n");
    }
    return page + "    Backup Peers\n";
  }

  LoopbackHttpServer up_{Family::kV4, StatusResponse(200)};
  LoopbackHttpServer flap_{Family::kV4, StatusResponse(200)};
  LoopbackClosedPort closed_;
  TestConfig config_;
};

// --- shm.size: the dict's capacity -------------------------------------------------------

constexpr int kUpstreams = 3;

std::string FillerKey(int i) {
  std::string digits = std::to_string(i);
  return "filler:" + std::string(5 - digits.size(), '0') + digits;
}

// `lua_shared_dict healthcheck 64k` works in the original; `size = "64k"` works here. The
// dict gets the whole 64k (the segment is bigger), holds the checkers' keys, and when
// filled up evicts the least recently used entries, the oldest fillers first, while the
// checkers go on turning peers down and up.
TEST_F(DaemonDictTest, A64kDictStartsProbesAndEvictsTheOldestEntriesWhenFull) {
  config_.shm_size = "64k";
  for (int u = 1; u <= kUpstreams; ++u) {
    config_.upstreams.push_back({.name = "app" + std::to_string(u),
                                 .primary = {up_.address(), closed_.address(), flap_.address()}});
  }
  auto page = [&](bool flap_down) {
    std::string text;
    for (int u = 1; u <= kUpstreams; ++u) {
      if (u > 1) text += "\n";
      text +=
          Block("app" + std::to_string(u),
                {{up_.address(), false}, {closed_.address(), true}, {flap_.address(), flap_down}});
    }
    return text;
  };
  auto down_keys = [&](bool flap_down) {
    std::set<std::string> keys;
    for (int u = 1; u <= kUpstreams; ++u) {
      keys.insert("d:app" + std::to_string(u) + ":p1");
      if (flap_down) keys.insert("d:app" + std::to_string(u) + ":p2");
    }
    return keys;
  };

  DaemonProcess daemon(ConfigToml(config_));
  int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();
  ASSERT_TRUE(Eventually([&] { return Keys("d:") == down_keys(false); }, seconds(20)))
      << daemon.err();
  ASSERT_TRUE(Eventually([&] { return PagesShow(port, page(false)); }, seconds(20)))
      << daemon.err();

  Result<std::unique_ptr<Segment>> seg = Segment::Open(config_.shm_name);
  ASSERT_TRUE(seg.ok()) << seg.error();
  const SegmentInfo info = (*seg)->info();
  size_t registry_bytes = 0;
  ASSERT_NE(SegmentSetUp::Area(**seg, SegmentArea::kRegistry, &registry_bytes), nullptr);
  EXPECT_EQ(info.dict_size, 64u * 1024);
  EXPECT_EQ((*seg)->dict().Stats().capacity_bytes, 64u * 1024);
  EXPECT_GT(info.size, 64u * 1024 + registry_bytes);

  // Twice as many one-chunk fillers as the dict has chunks, while the checkers run.
  const int fillers = static_cast<int>(2 * (*seg)->dict().Stats().chunks);
  bool forcible = false;
  for (int i = 0; i < fillers; ++i) {
    DictStoreResult r = (*seg)->dict().Set(FillerKey(i), DictValue(1.0));
    ASSERT_TRUE(r.ok()) << FillerKey(i) << ": " << r.status.message();
    forcible = forcible || r.forcible;
  }
  EXPECT_TRUE(forcible) << "the dict was never full";
  seg->reset();
  // Oldest first: what is left of the fillers is the newest ones, without a gap.
  std::set<std::string> left = Keys("filler:");
  ASSERT_FALSE(left.empty());
  EXPECT_NE(*left.begin(), FillerKey(0));
  EXPECT_EQ(*left.rbegin(), FillerKey(fillers - 1));
  const int first = std::stoi(left.begin()->substr(7));
  EXPECT_EQ(left.size(), static_cast<size_t>(fillers - first)) << "a newer filler went first";
  EXPECT_GT(left.size(), 64u * 1024 / 64 / 2) << "the fillers got less than half of the dict";

  // The dict is full, so every key a checker writes from now on evicts a filler: the
  // protocol still turns peers down and up, in the flags and on every worker's page.
  flap_.SetResponse(StatusResponse(500));
  EXPECT_TRUE(Eventually([&] { return Keys("d:") == down_keys(true); }, seconds(20)))
      << daemon.err();
  EXPECT_TRUE(Eventually([&] { return PagesShow(port, page(true)); }, seconds(20))) << daemon.err();
  flap_.SetResponse(StatusResponse(200));
  EXPECT_TRUE(Eventually([&] { return Keys("d:") == down_keys(false); }, seconds(20)))
      << daemon.err();
  EXPECT_TRUE(Eventually([&] { return PagesShow(port, page(false)); }, seconds(20)))
      << daemon.err();
  std::set<std::string> still = Keys("filler:");
  EXPECT_LT(still.size(), left.size()) << "the checkers' writes evicted no filler";
  if (!still.empty()) {
    EXPECT_GT(*still.begin(), *left.begin());
  }
  // The flood may have evicted a `v:` key too (it is read every cycle, but the fillers came
  // faster); the publishes since wrote it again (protocol.md Q1).
  for (int u = 1; u <= kUpstreams; ++u) {
    EXPECT_GE(Number("v:app" + std::to_string(u)), 1) << "no version for app" << u;
  }
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

// --- SIGHUP: the dict carried over by position, or by peer -------------------------------

class DaemonReloadStateTest : public DaemonDictTest {
 protected:
  void SetUp() override {
    DaemonDictTest::SetUp();
    config_.upstreams = {{.name = "app", .primary = {closed_.address(), up_.address()}, .rise = 2}};
  }

  // Starts on [closed, up], waits for the closed peer's flag (d:app:p0), then reloads with
  // the two swapped. The test holds the check lock over the reload (an old worker's lock
  // outliving the HUP, as in the original): no probe can run in the new workers until it
  // releases it with ReleaseLock(), so what they show first is what the reload carried.
  // Returns the error log's length before the SIGHUP; sets port_.
  size_t SwapPeersAndReload(DaemonProcess& daemon) {
    const size_t none = std::string::npos;
    port_ = daemon.StatusPort();
    if (port_ <= 0) {
      ADD_FAILURE() << daemon.err();
      return none;
    }
    if (!Eventually([&] { return Keys("d:") == std::set<std::string>{"d:app:p0"}; }, seconds(20)) ||
        !Eventually([&] { return Number("v:app") >= 1; })) {
      ADD_FAILURE() << "the closed peer was never published down\n" << daemon.err();
      return none;
    }
    Result<std::unique_ptr<Segment>> old = Segment::Open(config_.shm_name);
    if (!old.ok() || !(*old)->dict().Set("l:app", DictValue(true), 600 * 1000).ok()) {
      ADD_FAILURE() << "cannot hold the lock";
      return none;
    }
    old->reset();
    TestConfig next = config_;
    next.upstreams[0].primary = {up_.address(), closed_.address()};
    daemon.Rewrite(ConfigToml(next));
    size_t mark = daemon.err().size();
    daemon.Signal(SIGHUP);
    if (!daemon.WaitForErr("reload done", seconds(10), mark)) {
      ADD_FAILURE() << daemon.err();
      return none;
    }
    return mark;
  }

  void ReleaseLock() {
    Result<std::unique_ptr<Segment>> seg = Segment::Open(config_.shm_name);
    ASSERT_TRUE(seg.ok()) << seg.error();
    ASSERT_TRUE((*seg)->dict().Delete("l:app").ok());
  }

  std::string Page(bool up_down, bool closed_down) const {
    return Block("app", {{up_.address(), up_down}, {closed_.address(), closed_down}});
  }

  int port_ = 0;  // the status listener, kept across the reload
};

// The default, as the original: the dict survives the HUP as it was, so d:app:p0 now names
// the healthy peer, which every new worker shows DOWN (and the closed one UP) until the
// checks correct both, within rise cycles.
TEST_F(DaemonReloadStateTest, ByDefaultTheFlagsStayInTheirPositions) {
  DaemonProcess daemon(ConfigToml(config_));
  const size_t mark = SwapPeersAndReload(daemon);
  ASSERT_NE(mark, std::string::npos);
  EXPECT_EQ(Keys("d:"), std::set<std::string>{"d:app:p0"});
  EXPECT_EQ(Keys("l:"), std::set<std::string>{"l:app"}) << "the held lock was not carried";
  EXPECT_TRUE(daemon.WaitForErr("(positional)", seconds(1), mark)) << daemon.err();
  EXPECT_TRUE(Eventually([&] { return PagesShow(port_, Page(true, false)); })) << daemon.err();

  ReleaseLock();
  EXPECT_TRUE(Eventually([&] { return Keys("d:") == std::set<std::string>{"d:app:p1"}; }))
      << daemon.err();
  EXPECT_TRUE(Eventually([&] { return PagesShow(port_, Page(false, true)); })) << daemon.err();
  EXPECT_TRUE(daemon.WaitForErr("peer " + up_.address() + " is turned up after 2 success(es)",
                                seconds(10), mark))
      << daemon.err();
  EXPECT_TRUE(daemon.WaitForErr("peer " + closed_.address() + " is turned down after 1 failure(s)",
                                seconds(10), mark))
      << daemon.err();
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

// reload_state = "by_peer" (lua-resty-upstream-healthcheck issue #84): each peer's flag and
// counters follow its address, so the new workers show the truth before any probe.
TEST_F(DaemonReloadStateTest, ByPeerTheFlagsFollowThePeers) {
  config_.reload_state = "by_peer";
  DaemonProcess daemon(ConfigToml(config_));
  const size_t mark = SwapPeersAndReload(daemon);
  ASSERT_NE(mark, std::string::npos);
  // The closed peer's flag and failure count moved to p1, the healthy one's successes to
  // p0; neither has any other key (protocol.md §7: the opposite counter is never written
  // before the first transition).
  EXPECT_EQ(Keys("d:"), std::set<std::string>{"d:app:p1"});
  EXPECT_EQ(Keys("nok:"), std::set<std::string>{"nok:app:p1"});
  EXPECT_EQ(Keys("ok:"), std::set<std::string>{"ok:app:p0"});
  EXPECT_EQ(Keys("l:"), std::set<std::string>{"l:app"});
  EXPECT_TRUE(daemon.WaitForErr("(by_peer)", seconds(1), mark)) << daemon.err();
  EXPECT_TRUE(Eventually([&] { return PagesShow(port_, Page(false, true)); })) << daemon.err();

  // The checks agree: two more failures of the closed peer, and no transition.
  const double failures = Number("nok:app:p1");
  ReleaseLock();
  EXPECT_TRUE(Eventually([&] { return Number("nok:app:p1") >= failures + 2; })) << daemon.err();
  EXPECT_TRUE(PagesShow(port_, Page(false, true)));
  EXPECT_EQ(daemon.err().find(" is turned ", mark), std::string::npos) << daemon.err();
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

}  // namespace
}  // namespace upcheck::testing
