// End-to-end tests of upcheck-status: the real binary (UPCHECK_STATUS) against a segment
// laid out as upcheckd's master lays it out, built here without the daemon. What an operator
// sees is checked: the page on stdout, byte for byte where the format is the original's, the
// one-line error on stderr, and the exit status.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shm/segment_header.h"
#include "test_names.h"
#include "tool_fixture.h"
#include "upcheck/internal/status_details.h"
#include "upcheck/status_pages.h"
#include "upcheck/upstreams.h"

namespace upcheck {
namespace {

using nlohmann::json;
using testing::DaemonlessSegment;
using testing::ProcessResult;

constexpr char kTool[] = "upcheck-status";

// original-tests.md S-12's page: :12355 and :12357 answer 404 and are DOWN.
constexpr char kS12Page[] =
    "Upstream foo.com\n"
    "    Primary Peers\n"
    "        127.0.0.1:12354 UP\n"
    "        127.0.0.1:12355 DOWN\n"
    "    Backup Peers\n"
    "        127.0.0.1:12356 UP\n"
    "\n"
    "Upstream bar.com\n"
    "    Primary Peers\n"
    "        127.0.0.1:12354 UP\n"
    "        127.0.0.1:12355 DOWN\n"
    "        127.0.0.1:12357 DOWN\n"
    "    Backup Peers\n"
    "        127.0.0.1:12356 UP\n";

class StatusToolTest : public ::testing::Test {
 protected:
  ProcessResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"-s", name_});
    return testing::RunTool("UPCHECK_STATUS", args);
  }
  std::string Ok(std::vector<std::string> args) {
    ProcessResult r = Run(std::move(args));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return r.out;
  }

  // S-12 after a few cycles: versions published, the 404 peers flagged down, a live worker
  // (this test process) running checkers.
  void SetUpS12(DaemonlessSegment& seg) {
    seg.AddWorker(getpid(), WorkerState::kRunning, 2);
    seg.SetDown("foo.com", false, 1, true);
    seg.SetDown("bar.com", false, 1, true);
    seg.SetDown("bar.com", false, 2, true);
    ASSERT_TRUE(seg.dict().Set("d:foo.com:b0", DictValue(false)).ok());  // false: up (Q33)
    seg.Publish("foo.com", 3);
    seg.Publish("bar.com", 2);
  }

  // The view a worker of S-12 has once it synced, built by hand with the library.
  static Upstreams ExpectedS12View() {
    Upstreams view;
    for (const RegistryUpstreamSpec& spec : testing::S12Specs()) {
      EXPECT_TRUE(view.AddUpstream(spec.name, spec.primary, spec.backup).ok());
      view.AddChecker(spec.name, 1);
    }
    EXPECT_TRUE(view.SetPeerDown("foo.com", false, 1, true).ok());
    EXPECT_TRUE(view.SetPeerDown("bar.com", false, 1, true).ok());
    EXPECT_TRUE(view.SetPeerDown("bar.com", false, 2, true).ok());
    return view;
  }

  std::string name_ = testing::UniqueSegmentName("status");
};

TEST_F(StatusToolTest, HelpExitsZeroAndDocumentsTheRules) {
  ProcessResult r = testing::RunTool("UPCHECK_STATUS", {"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--format"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(NO checkers)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"worker_pid\": 0"), std::string::npos) << r.out;
}

TEST_F(StatusToolTest, TextIsTheS12PageByteForByte) {
  DaemonlessSegment seg(name_, testing::S12Specs());
  ASSERT_TRUE(seg.ok());
  SetUpS12(seg);
  EXPECT_EQ(Ok({}), kS12Page);
  EXPECT_EQ(Ok({"--format", "text"}), kS12Page);
  EXPECT_EQ(Ok({"-f", "text"}), StatusPage(ExpectedS12View()));
}

TEST_F(StatusToolTest, ADeadOrIdleWorkerTableMeansNoCheckers) {
  DaemonlessSegment seg(name_, testing::S12Specs());
  ASSERT_TRUE(seg.ok());
  seg.Publish("foo.com", 1);
  seg.SetDown("foo.com", false, 1, true);
  const std::string no_checkers =
      "Upstream foo.com (NO checkers)\n"
      "    Primary Peers\n"
      "        127.0.0.1:12354 UP\n"
      "        127.0.0.1:12355 DOWN\n"
      "    Backup Peers\n"
      "        127.0.0.1:12356 UP\n"
      "\n"
      "Upstream bar.com (NO checkers)\n"
      "    Primary Peers\n"
      "        127.0.0.1:12354 UP\n"
      "        127.0.0.1:12355 UP\n"
      "        127.0.0.1:12357 UP\n"
      "    Backup Peers\n"
      "        127.0.0.1:12356 UP\n";
  EXPECT_EQ(Ok({}), no_checkers);  // no workers at all

  // Killed with the master: the rows still say running, but no process has the pid.
  seg.AddWorker(testing::ReapedChildPid(), WorkerState::kRunning, 2);
  // Alive, but not running checkers (yet).
  seg.AddWorker(getpid(), WorkerState::kStarting, 2);
  seg.AddWorker(getpid(), WorkerState::kRunning, 0);
  EXPECT_EQ(Ok({}), no_checkers);

  seg.AddWorker(getpid(), WorkerState::kRunning, 2);
  const std::string page = Ok({});
  EXPECT_EQ(page.find("(NO checkers)"), std::string::npos) << page;
  EXPECT_EQ(page.find("Upstream foo.com\n"), 0u) << page;
}

TEST_F(StatusToolTest, ConfiguredDownStandsUntilAVersionIsPublished) {
  std::vector<RegistryUpstreamSpec> specs = testing::S12Specs();
  specs[0].primary[1].down = true;  // foo.com :12355 `down`
  specs[1].primary[0].down = true;  // bar.com :12354 `down`
  DaemonlessSegment seg(name_, specs);
  ASSERT_TRUE(seg.ok());
  seg.AddWorker(getpid(), WorkerState::kRunning, 2);
  seg.SetDown("foo.com", true, 0, true);  // ignored: nothing published for foo.com yet
  std::string page = Ok({});
  EXPECT_NE(page.find("Upstream foo.com\n    Primary Peers\n        127.0.0.1:12354 UP\n"
                      "        127.0.0.1:12355 DOWN\n    Backup Peers\n"
                      "        127.0.0.1:12356 UP\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("Upstream bar.com\n    Primary Peers\n        127.0.0.1:12354 DOWN\n"),
            std::string::npos)
      << page;

  // Once v:foo.com exists, every worker takes the dict's flags: :12355 has none, so it is up.
  seg.Publish("foo.com", 1);
  page = Ok({});
  EXPECT_NE(page.find("        127.0.0.1:12355 UP\n    Backup Peers\n"
                      "        127.0.0.1:12356 DOWN\n\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("Upstream bar.com\n    Primary Peers\n        127.0.0.1:12354 DOWN\n"),
            std::string::npos)
      << page;
}

TEST_F(StatusToolTest, AnUpstreamWithoutACheckTableKeepsItsConfiguredFlags) {
  std::vector<RegistryUpstreamSpec> specs = {{.name = "plain",
                                              .primary = {{"127.0.0.1:1"}, {"127.0.0.1:2", true}},
                                              .backup = {},
                                              .check = std::nullopt}};
  DaemonlessSegment seg(name_, specs);
  ASSERT_TRUE(seg.ok());
  seg.AddWorker(getpid(), WorkerState::kRunning, 1);
  seg.Publish("plain", 4);
  seg.SetDown("plain", false, 0, true);  // no worker syncs an unchecked upstream
  EXPECT_EQ(Ok({}),
            "Upstream plain (NO checkers)\n"
            "    Primary Peers\n"
            "        127.0.0.1:1 UP\n"
            "        127.0.0.1:2 DOWN\n"
            "    Backup Peers\n");
}

TEST_F(StatusToolTest, PrometheusIsTheMetricsEndpoint) {
  DaemonlessSegment seg(name_, testing::S12Specs());
  ASSERT_TRUE(seg.ok());
  SetUpS12(seg);
  const int64_t t = testing::UnixNowMs() - 1500;
  seg.RecordCheck("foo.com", false, 0, true, t);
  seg.RecordCheck("foo.com", false, 1, false, t, -1);

  const std::string page = Ok({"--format", "prometheus"});
  Upstreams expected = ExpectedS12View();
  Result<std::string> original = PrometheusStatusPage(expected);
  ASSERT_TRUE(original.ok());
  EXPECT_EQ(page, *original + UpcheckMetrics(expected, &seg.registry()));

  EXPECT_EQ(page.rfind("# HELP nginx_upstream_status_info", 0), 0u) << page;
  EXPECT_NE(page.find("nginx_upstream_status_info{name=\"foo.com\",endpoint=\"127.0.0.1:12355\","
                      "status=\"DOWN\",role=\"PRIMARY\"} 1\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("upcheck_peer_up{upstream=\"foo.com\",peer=\"127.0.0.1:12355\","
                      "role=\"primary\"} 0\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("upcheck_peer_checks_total{upstream=\"foo.com\",peer=\"127.0.0.1:12355\","
                      "role=\"primary\",result=\"failure\"} 1\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("upcheck_build_info{version=\"" + std::string(UpcheckVersion()) + "\"} 1\n"),
            std::string::npos)
      << page;
}

TEST_F(StatusToolTest, JsonIsTheStatusDocumentWithWorkerPidZero) {
  DaemonlessSegment seg(name_, testing::S12Specs());
  ASSERT_TRUE(seg.ok());
  SetUpS12(seg);
  const int64_t t = 1795456800123;  // 2026-11-23T18:00:00.123Z
  seg.RecordCheck("foo.com", false, 1, true, t - 1000);
  seg.RecordCheck("foo.com", false, 1, false, t, -1);
  ASSERT_TRUE(seg.dict().Set("nok:foo.com:p1", DictValue(1.0)).ok());
  ASSERT_TRUE(seg.dict().Set("ok:foo.com:p0", DictValue(4.0)).ok());

  const std::string out = Ok({"--format", "json"});
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  json doc = json::parse(out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded()) << out;
  EXPECT_EQ(doc["worker_pid"], 0);
  ASSERT_EQ(doc["upstreams"].size(), 2u) << out;
  const json& foo = doc["upstreams"][0];
  EXPECT_EQ(foo["name"], "foo.com");
  EXPECT_EQ(foo["checkers"], 1);
  EXPECT_EQ(foo["version"], 3);
  EXPECT_EQ(doc["upstreams"][1]["name"], "bar.com");
  EXPECT_EQ(doc["upstreams"][1]["version"], 2);
  ASSERT_EQ(foo["peers"].size(), 3u) << out;
  EXPECT_EQ(foo["peers"][0]["up"], true);
  EXPECT_EQ(foo["peers"][0]["ok"], 4);
  EXPECT_EQ(foo["peers"][0]["last_check"], nullptr);
  const json& p1 = foo["peers"][1];
  EXPECT_EQ(p1["name"], "127.0.0.1:12355");
  EXPECT_EQ(p1["role"], "primary");
  EXPECT_EQ(p1["id"], 1);
  EXPECT_EQ(p1["up"], false);
  EXPECT_EQ(p1["nok"], 1);
  EXPECT_EQ(p1["checks"], 2);
  EXPECT_EQ(p1["failures"], 1);
  EXPECT_EQ(p1["last_check"], "2026-11-23T18:00:00.123Z");
  EXPECT_EQ(p1["last_change"], "2026-11-23T18:00:00.123Z");
  EXPECT_EQ(p1["last_result"], "status_code");
  EXPECT_EQ(p1["failures_by_result"], json({{"status_code", 1}}));
  EXPECT_EQ(foo["peers"][2]["role"], "backup");
  EXPECT_EQ(foo["peers"][2]["up"], true);

  EXPECT_EQ(out, StatusJson(ExpectedS12View(), &seg.registry(), &seg.dict(), 0) + "\n");
}

TEST_F(StatusToolTest, AMissingSegmentIsAOneLineError) {
  EXPECT_TRUE(testing::IsOneLineError(Run({}), kTool, "segment '" + name_ + "' not found"));
  EXPECT_TRUE(testing::IsOneLineError(Run({"--format", "json"}), kTool, "segment '" + name_ + "'"));
}

TEST_F(StatusToolTest, ASegmentWithoutRegistryIsAOneLineError) {
  auto segment = Segment::Create({.name = name_, .size = 256 * 1024});
  ASSERT_TRUE(segment.ok()) << segment.error();
  (*segment)->Publish();
  for (const char* format : {"text", "prometheus", "json"}) {
    EXPECT_TRUE(testing::IsOneLineError(
        Run({"--format", format}), kTool,
        "segment '" + name_ + "' has no registry: it was created without a daemon"))
        << format;
  }
  (void)Segment::Remove(name_);
}

TEST_F(StatusToolTest, ALayoutMismatchIsAOneLineError) {
  DaemonlessSegment seg(name_, testing::S12Specs());
  ASSERT_TRUE(seg.ok());
  int fd = shm_open(("/" + SegmentObjectName(name_)).c_str(), O_RDWR, 0);
  ASSERT_GE(fd, 0);
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(p, MAP_FAILED);
  static_cast<shm::SegmentHeaderShm*>(p)->layout_version = 99;
  munmap(p, 4096);
  close(fd);
  EXPECT_TRUE(
      testing::IsOneLineError(Run({}), kTool, "segment '" + name_ + "' has layout version 99"));
}

TEST_F(StatusToolTest, ConfigFileNamesTheSegment) {
  DaemonlessSegment seg(name_, testing::S12Specs());
  ASSERT_TRUE(seg.ok());
  SetUpS12(seg);
  const char* dir = std::getenv("TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name_ + ".toml";
  std::ofstream(path) << "[shm]\nname = \"" << name_
                      << "\"\n\n[[upstream]]\nname = \"foo.com\"\n"
                         "primary = [\"127.0.0.1:12354\"]\n";
  ProcessResult r = testing::RunTool("UPCHECK_STATUS", {"-c", path});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kS12Page);
  EXPECT_TRUE(testing::IsOneLineError(testing::RunTool("UPCHECK_STATUS", {"-c", path + ".missing"}),
                                      kTool, ".missing"));
  std::remove(path.c_str());
}

TEST_F(StatusToolTest, UsageErrorsAreOneLine) {
  EXPECT_TRUE(testing::IsOneLineError(Run({"--format", "xml"}), kTool, "xml"));
  EXPECT_TRUE(testing::IsOneLineError(Run({"extra"}), kTool, "extra"));
  EXPECT_TRUE(testing::IsOneLineError(Run({"-c", "upcheck.toml"}), kTool, "excludes"));
}

}  // namespace
}  // namespace upcheck
