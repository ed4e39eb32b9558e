// The protocol across real forked workers sharing one segment (protocol.md §6.5, §7.4):
// one probe cycle per interval cluster-wide, transitions reaching every worker, streaks
// counted across workers, a dead lock holder replaced after the TTL, a flushed dict
// restored, and a failed publish that recovers (Q2 fixed).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <set>

#include "loopback_http_server.h"
#include "slow_tool.h"
#include "worker_fleet.h"

namespace upcheck::testing {
namespace {

using std::chrono::milliseconds;
using Events = std::vector<FleetEvent>;

int Count(const Events& events, const std::function<bool(const FleetEvent&)>& f) {
  return static_cast<int>(std::count_if(events.begin(), events.end(), f));
}
bool IsLog(const FleetEvent& e, const std::string& needle) {
  return e.kind == "log" && e.text.find(needle) != std::string::npos;
}

// When a cycle took (or tried) the lock, bracketed by stamps of its worker: its "run a check
// cycle" line comes just before the lock's add, its start event just after. A worker may be
// preempted between the two, so only the bracket is known: comparisons below hold whatever
// the load, and are as sharp as the brackets are narrow.
struct LockTry {
  int worker = -1;
  bool probing = false;  // the add succeeded
  int64_t not_before = 0, not_after = 0;
  size_t index = 0;  // of the start event
};

// Every cycle start from event `from` on, with its bracket (the same worker's last "run a
// check cycle" line before it).
std::vector<LockTry> LockTries(const Events& ev, size_t from = 0) {
  std::map<int, int64_t> cycle_line;  // worker -> ms of its last "run a check cycle" line
  std::vector<LockTry> tries;
  for (size_t i = 0; i < ev.size(); ++i) {
    const FleetEvent& e = ev[i];
    if (IsLog(e, "run a check cycle")) cycle_line[e.worker] = e.ms;
    if (e.kind != "start" || i < from) continue;
    auto line = cycle_line.find(e.worker);
    EXPECT_NE(line, cycle_line.end()) << "a cycle start with no cycle line, worker " << e.worker;
    tries.push_back({e.worker, e.probing, line != cycle_line.end() ? line->second : e.ms, e.ms, i});
  }
  return tries;
}

// The most two adds bracketed by `a` and `b` can be apart.
int64_t MostApart(const LockTry& a, const LockTry& b) {
  return std::max(b.not_after - a.not_before, a.not_after - b.not_before);
}

// interval_ms is stretched under valgrind (SlowInterval), so that a probe fits in the lock.
CheckOptions Options(int interval_ms, int fall) {
  CheckOptions o;
  o.type = "http";
  o.http_req = "GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n";
  o.interval_ms = SlowInterval(interval_ms);
  o.fall = fall;
  o.valid_statuses = std::vector<double>{200};
  return o;
}

TEST(CheckerMultiProcess, OneProbeCyclePerIntervalAcrossAllWorkers) {
  LoopbackHttpServer backend(Family::kV4, StatusResponse(200));
  WorkerFleet fleet({{"foo.com", {{backend.address()}}, {}}}, Options(150, 2));
  for (int i = 0; i < 3; ++i) fleet.StartWorker();
  auto probing = [](const Events& ev) {
    return Count(ev, [](auto& e) { return e.kind == "start" && e.probing; });
  };
  // Twelve probing cycles, and a tick from every worker: a worker forked last may start
  // its loop only after the others' first cycles (seen under ASan).
  auto ticked = [](const Events& ev) {
    std::set<int> workers;
    for (const FleetEvent& e : ev) {
      if (e.kind == "start") workers.insert(e.worker);
    }
    return workers.size();
  };
  ASSERT_TRUE(fleet.WaitFor([&](const Events& ev) { return probing(ev) >= 12 && ticked(ev) == 3; },
                            milliseconds(60000)));
  Events ev = fleet.events();
  std::vector<int64_t> starts;
  int skipped = 0;
  std::set<int> ticking;
  for (const FleetEvent& e : ev) {
    if (e.kind != "start") continue;
    ticking.insert(e.worker);
    if (e.probing) {
      starts.push_back(e.ms);
    } else {
      ++skipped;
    }
  }
  // Every worker ticks; the ones that find the lock taken skip probing.
  EXPECT_EQ(ticking.size(), 3u);
  EXPECT_GT(skipped, 0);
  // G1: probe cycles are at least the lock TTL (interval - 1 ms) apart, cluster-wide: the
  // dict expires an entry at add + TTL (ms), so two adds of `l:` are TTL or more apart,
  // and so are the most their brackets allow.
  std::vector<LockTry> locks;
  for (const LockTry& t : LockTries(ev)) {
    if (t.probing) locks.push_back(t);
  }
  std::sort(locks.begin(), locks.end(),
            [](const LockTry& a, const LockTry& b) { return a.not_before < b.not_before; });
  const int64_t ttl = SlowInterval(150) - 1;
  for (size_t i = 1; i < locks.size(); ++i) {
    EXPECT_GE(MostApart(locks[i - 1], locks[i]), ttl) << "probing cycles " << i - 1 << ", " << i;
  }
  // Each probing cycle probed the one peer exactly once; nobody probed without the lock.
  int seen = static_cast<int>(starts.size());
  EXPECT_TRUE(backend.WaitForRequests(seen, Slow(milliseconds(30000))));
  // The workers' events reach the test after their probes do (far after, under valgrind), so
  // the requests are matched against the start events once those have arrived: one request
  // more than starts at most (a cycle may have begun since), however late the events are.
  const int requests = backend.requests();
  EXPECT_TRUE(fleet.WaitFor([&](const Events& e) { return probing(e) + 1 >= requests; }))
      << requests << " requests, " << probing(fleet.events()) << " probing cycles";
}

TEST(CheckerMultiProcess, TransitionReachesEveryWorkerAtItsNextCycle) {
  LoopbackHttpServer good(Family::kV4, StatusResponse(200)),
      flaky(Family::kV4, StatusResponse(200));
  WorkerFleet fleet({{"foo.com", {{good.address()}, {flaky.address()}}, {}}}, Options(100, 2));
  for (int i = 0; i < 3; ++i) fleet.StartWorker();
  ASSERT_TRUE(fleet.WaitFor(
      [](const Events& ev) { return Count(ev, [](auto& e) { return e.kind == "end"; }) >= 6; }));
  flaky.SetResponse(StatusResponse(500));
  ASSERT_TRUE(fleet.WaitFor([](const Events& ev) {
    return Count(ev, [](auto& e) { return IsLog(e, "is turned down after 2 failure(s)"); }) == 1;
  }));
  // The transition is published at the end of the transition worker's cycle. Every other
  // worker's first cycle that starts after that publish must end with the peer down. (Its
  // "run a check cycle" line, stamped before the cycle reads the version, shows that it
  // started after the end event, stamped after the publish.)
  ASSERT_TRUE(fleet.WaitFor([](const Events& ev) {
    std::set<int> converged;
    for (const FleetEvent& e : ev) {
      if (e.kind == "end" && e.view == "UD") converged.insert(e.worker);
    }
    return converged.size() == 3;
  }));
  Events ev = fleet.events();
  int transition_worker = -1;
  int64_t published_at = 0;
  for (const FleetEvent& e : ev) {
    if (IsLog(e, "is turned down after")) transition_worker = e.worker;
    if (transition_worker >= 0 && e.worker == transition_worker && e.kind == "end") {
      published_at = e.ms;
      break;
    }
  }
  ASSERT_GT(published_at, 0);
  for (int w = 0; w < 3; ++w) {
    if (w == transition_worker) continue;
    bool started_after = false;
    for (const FleetEvent& e : ev) {
      if (e.worker != w) continue;
      if (IsLog(e, "run a check cycle") && e.ms > published_at) started_after = true;
      if (started_after && e.kind == "end") {
        EXPECT_EQ(e.view, "UD") << "worker " << w << " missed the published transition";
        break;
      }
    }
  }
  // Exactly one transition and one version cluster-wide.
  EXPECT_EQ(**fleet.dict().Get("v:foo.com"), DictValue(1.0));
  EXPECT_EQ(**fleet.dict().Get("d:foo.com:p1"), DictValue(true));
}

TEST(CheckerMultiProcess, StreaksAreCountedAcrossWorkers) {
  // Two failures, then the backend holds every probe unanswered: worker 0 counts exactly
  // two failures alone, whenever the test gets round to killing it.
  LoopbackHttpServer failing({.mode = LoopbackHttpServer::Mode::kHang,
                              .response = StatusResponse(500),
                              .script = {StatusResponse(500), StatusResponse(500)}});
  CheckOptions options = Options(100, 4);
  options.timeout_ms = 600000;  // a held probe never times out while the test runs
  WorkerFleet fleet({{"foo.com", {{failing.address()}}, {}}}, options);
  fleet.StartWorker();
  // Worker 0 counts the first two failures, its third probe is held, then it dies (SIGKILL:
  // a stopped worker could keep the dict lock; a dead one's lock is recovered by the next
  // user).
  ASSERT_TRUE(fleet.WaitFor([](const Events& ev) {
    return Count(ev, [](auto& e) { return IsLog(e, "was checked to be not ok"); }) >= 2;
  }));
  ASSERT_TRUE(failing.WaitForRequests(3, Slow(milliseconds(30000))));
  fleet.Kill(0, SIGKILL);
  Events before = fleet.events();
  int fails_by_0 = Count(before, [](auto& e) { return IsLog(e, "was checked to be not ok"); });
  ASSERT_EQ(fails_by_0, 2);
  // Worker 1 continues the same streak from the shared counter.
  failing.SetMode(LoopbackHttpServer::Mode::kRespond);
  fleet.StartWorker();
  ASSERT_TRUE(fleet.WaitFor([](const Events& ev) {
    return Count(ev, [](auto& e) { return IsLog(e, "is turned down after"); }) == 1;
  }));
  Events ev = fleet.events();
  int fails_by_1 = 0;
  for (const FleetEvent& e : ev) {
    if (e.worker == 1 && IsLog(e, "was checked to be not ok")) ++fails_by_1;
    if (IsLog(e, "is turned down after")) {
      EXPECT_EQ(e.worker, 1);
      EXPECT_NE(e.text.find("is turned down after 4 failure(s)"), std::string::npos) << e.text;
      break;
    }
  }
  // Worker 1 alone saw fewer than fall failures: the streak it ended began in worker 0.
  EXPECT_EQ(fails_by_1, 2);
}

TEST(CheckerMultiProcess, KilledLockHolderIsReplacedAfterTheTtl) {
  LoopbackHttpServer::Options slow;
  slow.response = StatusResponse(200);
  slow.delay = milliseconds(150);  // the holder is killed while its probe waits
  LoopbackHttpServer backend(slow);
  WorkerFleet fleet({{"foo.com", {{backend.address()}}, {}}}, Options(400, 2));
  for (int i = 0; i < 3; ++i) fleet.StartWorker();
  ASSERT_TRUE(fleet.WaitFor([](const Events& ev) {
    return Count(ev, [](auto& e) { return e.kind == "start" && e.probing; }) >= 2;
  }));
  // Kill the holder as soon as it starts its next probing cycle.
  LockTry holder;
  size_t seen = fleet.events().size();
  ASSERT_TRUE(fleet.WaitFor([&](const Events& ev) {
    for (const LockTry& t : LockTries(ev, seen)) {
      if (t.probing) {
        holder = t;
        return true;
      }
    }
    return false;
  }));
  fleet.Kill(holder.worker, SIGKILL);
  // The first lock a survivor takes since, and every survivor's next cycle start after it
  // (a worker's events arrive in order: then all its earlier ones are in).
  LockTry next;
  ASSERT_TRUE(fleet.WaitFor([&](const Events& ev) {
    next = LockTry{};
    std::set<int> later;
    for (const LockTry& t : LockTries(ev, holder.index + 1)) {
      if (t.worker == holder.worker) continue;
      if (next.worker < 0 && t.probing) {
        next = t;
      } else if (next.worker >= 0 && t.not_before > next.not_after) {
        later.insert(t.worker);
      }
    }
    return later.size() == 2;
  })) << "nobody took over";
  const int64_t ttl = SlowInterval(400) - 1;
  // Safety: not before the dead holder's lock expired (add + TTL).
  EXPECT_GE(MostApart(holder, next), ttl) << "the lock of a dead holder was taken before its TTL";
  // Liveness, in cycles rather than milliseconds: a survivor cycle that surely began after
  // the lock expired takes it, unless a survivor took it before (no later than that cycle
  // as far as the brackets tell).
  for (const LockTry& t : LockTries(fleet.events(), holder.index + 1)) {
    if (t.worker == holder.worker || t.not_before < holder.not_after + ttl) continue;
    EXPECT_LE(next.not_before, t.not_after)
        << "worker " << t.worker << " found the lock taken after the dead holder's TTL, and "
        << "worker " << next.worker << " took it only later";
  }
}

TEST(CheckerMultiProcess, FlushedDictIsRestoredAndNoDeadPeerReadsUp) {
  LoopbackHttpServer good(Family::kV4, StatusResponse(200));
  LoopbackClosedPort dead;
  WorkerFleet fleet({{"foo.com", {{good.address()}, {dead.address()}}, {}}}, Options(100, 2));
  for (int i = 0; i < 2; ++i) fleet.StartWorker();
  auto both_down = [](const Events& ev, size_t from) {
    std::set<int> w;
    for (size_t i = from; i < ev.size(); ++i) {
      if (ev[i].kind == "end" && ev[i].view == "UD") w.insert(ev[i].worker);
    }
    return w.size() == 2;
  };
  ASSERT_TRUE(fleet.WaitFor([&](const Events& ev) { return both_down(ev, 0); }));
  size_t flushed_at = fleet.events().size();
  fleet.dict().FlushAll();
  // Both workers cycle again after the flush; the keys come back.
  ASSERT_TRUE(fleet.WaitFor([&](const Events& ev) {
    std::map<int, int> ends;
    for (size_t i = flushed_at; i < ev.size(); ++i) ends[ev[i].worker] += ev[i].kind == "end";
    return ends[0] >= 3 && ends[1] >= 3;
  }));
  Events ev = fleet.events();
  for (size_t i = flushed_at; i < ev.size(); ++i) {
    if (ev[i].kind == "end" || ev[i].kind == "start") {
      EXPECT_EQ(ev[i].view, "UD") << "worker " << ev[i].worker << " saw the dead peer up";
    }
  }
  EXPECT_TRUE(fleet.dict().Get("v:foo.com")->has_value());
  EXPECT_EQ(**fleet.dict().Get("d:foo.com:p1"), DictValue(true));
  EXPECT_FALSE(fleet.dict().Get("d:foo.com:p0")->has_value());
}

TEST(CheckerMultiProcess, FailedPublishRecovers) {
  LoopbackHttpServer flaky(Family::kV4, StatusResponse(200));
  WorkerFleet fleet({{"foo.com", {{flaky.address()}}, {}}}, Options(100, 2));
  // v:foo.com holds a string: add fails ("exists") and incr fails ("not a number").
  ASSERT_TRUE(fleet.dict().Set("v:foo.com", DictValue(std::string("garbage"))).ok());
  for (int i = 0; i < 2; ++i) fleet.StartWorker();
  ASSERT_TRUE(fleet.WaitFor(
      [](const Events& ev) { return Count(ev, [](auto& e) { return e.kind == "end"; }) >= 4; }));
  flaky.SetResponse(StatusResponse(500));
  ASSERT_TRUE(fleet.WaitFor([](const Events& ev) {
    return Count(ev, [](auto& e) {
             return IsLog(e, "healthcheck: failed to publish new peers version: not a number");
           }) >= 2;
  }));
  // The checker keeps cycling and retrying; once the key is usable the publish goes out.
  ASSERT_TRUE(fleet.dict().Delete("v:foo.com").ok());
  ASSERT_TRUE(fleet.WaitFor([](const Events& ev) {
    std::set<int> w;
    for (const FleetEvent& e : ev) {
      if (e.kind == "end" && e.view == "D" && e.version >= 1) w.insert(e.worker);
    }
    return w.size() == 2;
  }));
  EXPECT_EQ(
      Count(fleet.events(), [](auto& e) { return IsLog(e, "failed to run healthcheck cycle"); }),
      0);
  EXPECT_GE(std::get<double>(**fleet.dict().Get("v:foo.com")), 1.0);
}

}  // namespace
}  // namespace upcheck::testing
