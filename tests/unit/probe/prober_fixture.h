// ProberFixture: runs probes on a UvTestLoop and checks that the loop closes clean.
#ifndef UPCHECK_TESTS_UNIT_PROBE_PROBER_FIXTURE_H_
#define UPCHECK_TESTS_UNIT_PROBE_PROBER_FIXTURE_H_

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probe/prober.h"
#include "probe_target_for.h"
#include "probe_uv_test_loop.h"

namespace upcheck {

class ProberFixture : public ::testing::Test {
 protected:
  static constexpr char kRequest[] = "GET /status HTTP/1.0\r\nHost: foo.com\r\n\r\n";

  static ProbeOptions HttpOptions(std::optional<std::vector<double>> valid = std::nullopt,
                                  int64_t timeout_ms = 5000) {
    ProbeOptions options;
    options.request = kRequest;
    options.timeout_ms = timeout_ms;
    options.valid_statuses = std::move(valid);
    return options;
  }

  // A prober on the fixture's loop; nullptr (and a test failure) if Create fails.
  Prober* MakeProber(ProbeOptions options) {
    auto prober = Prober::Create(loop_.get(), std::move(options));
    EXPECT_TRUE(prober.ok()) << prober.error();
    if (!prober.ok()) {
      return nullptr;
    }
    probers_.push_back(std::move(prober).value());
    return probers_.back().get();
  }

  // Probes `name` once and waits for the result (with a deadline).
  ProbeResult ProbeOnce(Prober* prober, const std::string& name,
                        std::optional<int> port_override = std::nullopt) {
    ProbeResult failed;
    failed.kind = ProbeKind::kSocket;
    failed.message = "test harness: no result";
    if (prober == nullptr) {
      return failed;
    }
    auto target = ProbeTargetFor(name, port_override);
    EXPECT_TRUE(target.ok()) << target.error();
    if (!target.ok()) {
      return failed;
    }
    std::optional<ProbeResult> result;
    int calls = 0;
    Status started = prober->Start(*target, [&](ProbeResult r) {
      ++calls;
      result = std::move(r);
    });
    EXPECT_TRUE(started.ok());
    EXPECT_TRUE(loop_.RunUntil([&] { return result.has_value(); }));
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(prober->in_flight(), 0u);
    return result.value_or(failed);
  }

  void TearDown() override {
    probers_.clear();  // shuts them down
    EXPECT_EQ(loop_.Close(), 0) << "a handle was left open";
  }

  testing::UvTestLoop loop_;
  std::vector<std::unique_ptr<Prober>> probers_;
};

}  // namespace upcheck

#endif  // UPCHECK_TESTS_UNIT_PROBE_PROBER_FIXTURE_H_
