// The status renderers on a 10,000-peer upstream (issue 5, item 6: <= 5 ms each), as a
// worker renders them: from its own view, the registry's details and the dict's counters.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "upcheck/internal/registry.h"
#include "upcheck/internal/status_details.h"
#include "upcheck/segment.h"
#include "upcheck/status_pages.h"

namespace upcheck {
namespace {

constexpr int kPeers = 10000;

struct Fixture {
  std::string name = "pages-bench-" + std::to_string(getpid());
  std::unique_ptr<Segment> segment;
  std::optional<Registry> registry;
  Upstreams view;

  Fixture() {
    CheckOptions check;
    check.type = "http";
    check.http_req = "GET /status HTTP/1.0\r\n\r\n";
    RegistryUpstreamSpec spec{"bench", {}, {}, check};
    for (int i = 0; i < kPeers; ++i) {
      spec.primary.push_back({"127.0.0.1:" + std::to_string(20000 + i)});
    }
    std::vector<RegistryUpstreamSpec> specs{spec};
    auto seg = SegmentSetUp::Create({.name = name, .size = 16 << 20, .replace = true},
                                    Registry::BytesNeeded(specs, 2));
    if (!seg.ok()) std::abort();
    segment = std::move(*seg);
    auto reg = Registry::Create(*segment, specs, 2);
    if (!reg.ok()) std::abort();
    registry.emplace(std::move(*reg));
    segment->Publish();
    auto v = registry->BuildUpstreams();
    if (!v.ok()) std::abort();
    view = std::move(*v);
    view.AddChecker("bench", 1);
    // Every tenth peer down after a refused connect; the others checked ok.
    for (int i = 0; i < kPeers; ++i) {
      std::string peer = "127.0.0.1:" + std::to_string(20000 + i);
      bool down = i % 10 == 0;
      PeerCheckEvent e;
      e.upstream = "bench";
      e.id = static_cast<uint32_t>(i);
      e.peer = peer;
      e.kind = down ? ProbeKind::kConnect : ProbeKind::kOk;
      e.detail = down ? "connection refused" : "";
      e.duration_ms = 0.4;
      e.unix_ms = 1700000000123 + i;
      e.transition = down ? HealthTransition::kTurnedDown : HealthTransition::kUnchanged;
      registry->RecordCheck(e);
      std::string suffix = "bench:p" + std::to_string(i);
      segment->dict().Set((down ? "nok:" : "ok:") + suffix, DictValue(3.0));
      if (down) (void)view.SetPeerDown("bench", false, static_cast<uint32_t>(i), true);
    }
  }
  ~Fixture() { (void)Segment::Remove(name); }
};

Fixture& F() {
  static Fixture fixture;
  return fixture;
}

void BM_StatusPage(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(StatusPage(F().view));
}
void BM_PrometheusStatusPage(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(PrometheusStatusPage(F().view));
}
void BM_UpcheckMetrics(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(UpcheckMetrics(F().view, &*F().registry));
}
void BM_Metrics(benchmark::State& state) {  // what GET /metrics renders: both parts
  for (auto _ : state) {
    Result<std::string> page = PrometheusStatusPage(F().view);
    AppendUpcheckMetrics(*page, F().view, &*F().registry);  // as workers/net/status_server
    benchmark::DoNotOptimize(page);
  }
}
void BM_StatusJson(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(StatusJson(F().view, &*F().registry, &F().segment->dict(), 1));
  }
}

BENCHMARK(BM_StatusPage)->Name("pages/status/10000")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PrometheusStatusPage)->Name("pages/prometheus/10000")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_UpcheckMetrics)->Name("pages/upcheck_metrics/10000")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Metrics)->Name("pages/metrics/10000")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StatusJson)->Name("pages/status_json/10000")->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace upcheck

BENCHMARK_MAIN();
