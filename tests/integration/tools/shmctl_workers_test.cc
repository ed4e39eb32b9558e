// End-to-end tests of `upcheck-shmctl workers` and the worker count of `info`: the real
// binary (UPCHECK_SHMCTL) against a segment laid out as upcheckd's master lays it out, with
// worker rows claimed here: this test process as a live worker, a reaped child as a dead one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_names.h"
#include "tool_fixture.h"
#include "upcheck/checker.h"

namespace upcheck {
namespace {

using nlohmann::json;
using testing::DaemonlessSegment;
using testing::ProcessResult;

constexpr char kTool[] = "upcheck-shmctl";

class ShmctlWorkersTest : public ::testing::Test {
 protected:
  ProcessResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"-s", name_});
    return testing::RunTool("UPCHECK_SHMCTL", args);
  }
  std::string Ok(std::vector<std::string> args) {
    ProcessResult r = Run(std::move(args));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return r.out;
  }
  json OkJson(std::vector<std::string> args) {
    const std::string out = Ok(std::move(args));
    json doc = json::parse(out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(doc.is_discarded()) << out;
    return doc;
  }

  // Slot 0: this process, running, one finished cycle per upstream (foo.com at version 3,
  // bar.com at 2). Slot 1: a reaped child still marked running. Slot 2: a reaped child
  // that was exiting.
  void AddWorkers(DaemonlessSegment& seg) {
    const uint32_t live = seg.AddWorker(getpid(), WorkerState::kRunning, 2);
    for (auto [upstream, version] : {std::pair{"foo.com", 3.0}, std::pair{"bar.com", 2.0}}) {
      seg.registry().RecordCycle(live, {.upstream = upstream, .end = false, .probing = true});
      seg.registry().RecordCycle(
          live, {.upstream = upstream, .end = true, .probing = true, .version = version});
    }
    dead_pid_ = testing::ReapedChildPid();
    seg.AddWorker(dead_pid_, WorkerState::kRunning, 2);
    gone_pid_ = testing::ReapedChildPid();
    seg.AddWorker(gone_pid_, WorkerState::kExiting, 2);
  }

  std::string name_ = testing::UniqueSegmentName("workers");
  pid_t dead_pid_ = 0, gone_pid_ = 0;
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(ShmctlWorkersTest, HelpDescribesTheCommand) {
  ProcessResult top = testing::RunTool("UPCHECK_SHMCTL", {"--help"});
  EXPECT_EQ(top.exit_code, 0) << top.err;
  EXPECT_NE(top.out.find("workers"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("LIVENESS"), std::string::npos) << top.out;
  ProcessResult sub = testing::RunTool("UPCHECK_SHMCTL", {"workers", "--help"});
  EXPECT_EQ(sub.exit_code, 0) << sub.err;
  EXPECT_NE(sub.out.find("--json"), std::string::npos) << sub.out;
}

TEST_F(ShmctlWorkersTest, TextListsEveryUsedSlot) {
  DaemonlessSegment seg(name_, testing::S12Specs());
  ASSERT_TRUE(seg.ok());
  AddWorkers(seg);
  const std::vector<std::string> lines = Lines(Ok({"workers"}));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_TRUE(std::regex_match(lines[0], std::regex("SLOT +PID +LIVENESS +STATE +CHECKERS +CYCLES "
                                                    "+CYCLE_START +CYCLE_END +VERSIONS")))
      << lines[0];
  const std::string age = R"([0-9]+\.[0-9]{3}s ago)";
  EXPECT_TRUE(std::regex_match(
      lines[1], std::regex("0 +" + std::to_string(getpid()) + " +alive +running +2 +2 +" + age +
                           " +" + age + " +foo\\.com=3 bar\\.com=2")))
      << lines[1];
  EXPECT_TRUE(std::regex_match(lines[2], std::regex("1 +" + std::to_string(dead_pid_) +
                                                    " +dead +running +2 +0 +- +- +foo\\.com=0 "
                                                    "bar\\.com=0")))
      << lines[2];
  EXPECT_TRUE(std::regex_match(
      lines[3], std::regex("2 +" + std::to_string(gone_pid_) + " +gone +exiting +2 +0 +- +- .*")))
      << lines[3];
}

TEST_F(ShmctlWorkersTest, JsonHasTimesAgesAndVersions) {
  DaemonlessSegment seg(name_, testing::S12Specs());
  ASSERT_TRUE(seg.ok());
  AddWorkers(seg);
  const json doc = OkJson({"workers", "--json"});
  EXPECT_EQ(doc["slots"], DaemonlessSegment::kMaxWorkers);
  EXPECT_EQ(doc["alive"], 1);
  ASSERT_EQ(doc["workers"].size(), 3u) << doc;

  const json& live = doc["workers"][0];
  EXPECT_EQ(live["slot"], 0);
  EXPECT_EQ(live["pid"], getpid());
  EXPECT_EQ(live["liveness"], "alive");
  EXPECT_EQ(live["alive"], true);
  EXPECT_EQ(live["state"], "running");
  EXPECT_EQ(live["checkers"], 2);
  EXPECT_EQ(live["cycles"], 2);
  const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  for (const char* field : {"started", "last_cycle_start", "last_cycle_end"}) {
    ASSERT_TRUE(live[field].is_string()) << field << ": " << live;
    EXPECT_TRUE(std::regex_match(live[field].get<std::string>(), iso)) << live[field];
  }
  EXPECT_GE(live["last_cycle_end_age_ms"].get<int64_t>(), 0);
  EXPECT_LT(live["last_cycle_end_age_ms"].get<int64_t>(), 60000);
  EXPECT_EQ(live["versions"], json({{"foo.com", 3}, {"bar.com", 2}}));
  // Registry order, not sorted: foo.com first.
  const std::string raw = Ok({"workers", "--json"});
  EXPECT_NE(raw.find(R"("versions":{"foo.com":3,"bar.com":2})"), std::string::npos) << raw;

  const json& dead = doc["workers"][1];
  EXPECT_EQ(dead["pid"], dead_pid_);
  EXPECT_EQ(dead["liveness"], "dead");
  EXPECT_EQ(dead["alive"], false);
  EXPECT_EQ(dead["last_cycle_start"], nullptr);
  EXPECT_EQ(dead["last_cycle_end_age_ms"], nullptr);
  EXPECT_EQ(doc["workers"][2]["liveness"], "gone");
  EXPECT_EQ(doc["workers"][2]["state"], "exiting");
}

TEST_F(ShmctlWorkersTest, AnEmptyTableIsTheHeaderAlone) {
  DaemonlessSegment seg(name_, testing::S12Specs());
  ASSERT_TRUE(seg.ok());
  EXPECT_EQ(Lines(Ok({"workers"})).size(), 1u);
  const json doc = OkJson({"workers", "--json"});
  EXPECT_EQ(doc["alive"], 0);
  EXPECT_EQ(doc["workers"], json::array());
}

TEST_F(ShmctlWorkersTest, InfoCountsLiveWorkersAgainstSlots) {
  DaemonlessSegment seg(name_, testing::S12Specs());
  ASSERT_TRUE(seg.ok());
  AddWorkers(seg);
  const std::string text = Ok({"info"});
  EXPECT_NE(text.find("\nworkers         1/6\n"), std::string::npos) << text;
  const json doc = OkJson({"info", "--json"});
  EXPECT_EQ(doc["workers"], json({{"alive", 1}, {"slots", 6}}));
}

TEST_F(ShmctlWorkersTest, ASegmentWithoutRegistry) {
  auto segment = Segment::Create({.name = name_, .size = 256 * 1024});
  ASSERT_TRUE(segment.ok()) << segment.error();
  (*segment)->Publish();
  const std::string no_registry =
      "segment '" + name_ + "' has no registry: it was created without a daemon";
  EXPECT_TRUE(testing::IsOneLineError(Run({"workers"}), kTool, no_registry));
  EXPECT_TRUE(testing::IsOneLineError(Run({"workers", "--json"}), kTool, no_registry));
  // info works and says nothing of workers.
  EXPECT_EQ(Ok({"info"}).find("\nworkers "), std::string::npos);
  EXPECT_FALSE(OkJson({"info", "--json"}).contains("workers"));
  (void)Segment::Remove(name_);
}

TEST_F(ShmctlWorkersTest, AMissingSegmentIsAOneLineError) {
  EXPECT_TRUE(
      testing::IsOneLineError(Run({"workers"}), kTool, "segment '" + name_ + "' not found"));
}

}  // namespace
}  // namespace upcheck
