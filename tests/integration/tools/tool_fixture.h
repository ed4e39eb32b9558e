// A segment laid out the way upcheckd's master lays it out (Segment + Registry, published),
// built without the daemon, plus the process-level helpers the tool tests need: run a tool
// binary named by an environment variable, and assert the tools' one-line errors.
//
// For tests of upcheck-status and upcheck-shmctl only. Each DaemonlessSegment uses its own
// segment name and removes it when destroyed.
#ifndef UPCHECK_TESTS_INTEGRATION_TOOLS_TOOL_FIXTURE_H_
#define UPCHECK_TESTS_INTEGRATION_TOOLS_TOOL_FIXTURE_H_

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "subprocess.h"
#include "upcheck/internal/registry.h"
#include "upcheck/segment.h"

namespace upcheck::testing {

// original-tests.md S-12: foo.com (:12354, :12355; backup :12356) and bar.com (:12354,
// :12355, :12357; backup :12356), both with a check table.
std::vector<RegistryUpstreamSpec> S12Specs();

class DaemonlessSegment {
 public:
  static constexpr uint32_t kMaxWorkers = 6;

  // Segment::Create with room for the registry, Registry::Create, Publish (ASSERTs inside).
  DaemonlessSegment(std::string name, const std::vector<RegistryUpstreamSpec>& specs);
  ~DaemonlessSegment();
  DaemonlessSegment(const DaemonlessSegment&) = delete;
  DaemonlessSegment& operator=(const DaemonlessSegment&) = delete;

  // False when set-up failed (a test failure was recorded).
  bool ok() const { return registry_.has_value(); }
  Registry& registry() { return *registry_; }
  SharedDict& dict() { return segment_->dict(); }
  const std::string& name() const { return name_; }

  // What a checker's Publish() leaves: v:<u> and the registry's version hint.
  void Publish(const std::string& upstream, double version);
  // d:<u>:p<id> / d:<u>:b<id> = true (down) or deleted (up), as SetPeerDownGlobally does.
  void SetDown(const std::string& upstream, bool backup, uint32_t id, bool down);
  // A worker slot for pid in `state` with `checkers`. Returns the slot.
  uint32_t AddWorker(int32_t pid, WorkerState state, uint32_t checkers);
  // One finished check of a peer, as a Checker reports it.
  void RecordCheck(const std::string& upstream, bool backup, uint32_t id, bool ok, int64_t unix_ms,
                   int transition = 0);

 private:
  std::string name_;
  std::unique_ptr<Segment> segment_;
  std::optional<Registry> registry_;
};

// The pid of a child that was forked, exited and reaped: no process has it (barring reuse).
pid_t ReapedChildPid();

// Unix time now, in ms.
int64_t UnixNowMs();

// Runs the binary named by environment variable `env_var` with args.
ProcessResult RunTool(const char* env_var, const std::vector<std::string>& args);

// Exit 1, nothing on stdout, exactly one line on stderr: "<tool>: ..." containing needle.
::testing::AssertionResult IsOneLineError(const ProcessResult& r, const std::string& tool,
                                          const std::string& needle);

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_INTEGRATION_TOOLS_TOOL_FIXTURE_H_
