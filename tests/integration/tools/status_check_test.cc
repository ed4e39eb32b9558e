// upcheck-status --check end to end: the real binary (UPCHECK_STATUS) against a segment laid
// out as upcheckd's master lays it out (tool_fixture.h). What a monitor sees is checked: the
// one line on stdout, nothing on stderr, and the exit status (0 OK, 1 CRITICAL, 2 UNKNOWN).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "test_names.h"
#include "tool_fixture.h"
#include "upcheck/segment.h"

namespace upcheck {
namespace {

using testing::DaemonlessSegment;
using testing::ProcessResult;

class StatusCheckTest : public ::testing::Test {
 protected:
  // The verdict line and exit status of `upcheck-status -s NAME --check ARGS...`.
  ::testing::AssertionResult Verdict(const std::vector<std::string>& args, int exit_code,
                                     const std::string& line) {
    std::vector<std::string> argv{"-s", name_, "--check"};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult r = testing::RunTool("UPCHECK_STATUS", argv);
    if (r.exit_code != exit_code || r.out != line + "\n" || !r.err.empty()) {
      return ::testing::AssertionFailure()
             << "exit " << r.exit_code << ", stdout [" << r.out << "], stderr [" << r.err << "]";
    }
    return ::testing::AssertionSuccess();
  }

  // S-12 (foo.com: 2 primaries + 1 backup; bar.com: 3 + 1) with a live worker running
  // checkers (this process) and both versions published.
  static void Publish(DaemonlessSegment& seg) {
    seg.AddWorker(getpid(), WorkerState::kRunning, 2);
    seg.Publish("foo.com", 2);
    seg.Publish("bar.com", 2);
  }

  std::string name_ = testing::UniqueSegmentName("check");
};

TEST_F(StatusCheckTest, EveryPeerUpIsOk) {
  DaemonlessSegment seg(name_, testing::S12Specs());
  ASSERT_TRUE(seg.ok());
  Publish(seg);
  EXPECT_TRUE(Verdict({}, 0, "OK: 2 upstreams, 7/7 peers up"));
}

// A backup keeps an upstream serving: still OK, with the down peers counted.
TEST_F(StatusCheckTest, AnUpstreamLeftWithItsBackupIsOk) {
  DaemonlessSegment seg(name_, testing::S12Specs());
  ASSERT_TRUE(seg.ok());
  seg.SetDown("foo.com", false, 0, true);
  seg.SetDown("foo.com", false, 1, true);
  seg.SetDown("bar.com", false, 2, true);
  Publish(seg);
  EXPECT_TRUE(Verdict({}, 0, "OK: 2 upstreams, 4/7 peers up"));
}

TEST_F(StatusCheckTest, AnUpstreamWithNoPeerUpIsCritical) {
  DaemonlessSegment seg(name_, testing::S12Specs());
  ASSERT_TRUE(seg.ok());
  seg.SetDown("foo.com", false, 0, true);
  seg.SetDown("foo.com", false, 1, true);
  seg.SetDown("foo.com", true, 0, true);
  Publish(seg);
  EXPECT_TRUE(Verdict({}, 1, "CRITICAL: upstream \"foo.com\" has no peer up (0/3)"));

  for (uint32_t id : {0u, 1u, 2u}) seg.SetDown("bar.com", false, id, true);
  seg.SetDown("bar.com", true, 0, true);
  seg.Publish("bar.com", 3);
  EXPECT_TRUE(Verdict({}, 1,
                      "CRITICAL: upstream \"foo.com\" has no peer up (0/3); "
                      "upstream \"bar.com\" has no peer up (0/4)"));
}

TEST_F(StatusCheckTest, AnUnreadableSegmentIsUnknown) {
  EXPECT_TRUE(Verdict({}, 2, "UNKNOWN: segment '" + name_ + "' not found"));

  auto segment = Segment::Create({.name = name_, .size = 256 * 1024});
  ASSERT_TRUE(segment.ok()) << segment.error();
  (*segment)->Publish();
  EXPECT_TRUE(Verdict(
      {}, 2, "UNKNOWN: segment '" + name_ + "' has no registry: it was created without a daemon"));
  (void)Segment::Remove(name_);
}

// A monitor reads stdout only: a usage error under --check is an UNKNOWN line too.
TEST_F(StatusCheckTest, AUsageErrorUnderCheckIsUnknown) {
  const ProcessResult r = testing::RunTool("UPCHECK_STATUS", {"--check", "--format", "xml"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.out.rfind("UNKNOWN: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("xml"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

}  // namespace
}  // namespace upcheck
