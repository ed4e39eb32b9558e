#include "tool_fixture.h"

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace upcheck::testing {

std::vector<RegistryUpstreamSpec> S12Specs() {
  CheckOptions check;
  check.type = "http";
  check.http_req = "GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n";
  check.interval_ms = 50;
  check.fall = 1;
  check.valid_statuses = std::vector<double>{200, 503};
  return {
      {.name = "foo.com",
       .primary = {{"127.0.0.1:12354"}, {"127.0.0.1:12355"}},
       .backup = {{"127.0.0.1:12356"}},
       .check = check},
      {.name = "bar.com",
       .primary = {{"127.0.0.1:12354"}, {"127.0.0.1:12355"}, {"127.0.0.1:12357"}},
       .backup = {{"127.0.0.1:12356"}},
       .check = check},
  };
}

DaemonlessSegment::DaemonlessSegment(std::string name,
                                     const std::vector<RegistryUpstreamSpec>& specs)
    : name_(std::move(name)) {
  Result<std::unique_ptr<Segment>> segment =
      SegmentSetUp::Create({.name = name_, .size = 1024 * 1024, .replace = true},
                           Registry::BytesNeeded(specs, kMaxWorkers));
  if (!segment.ok()) {
    ADD_FAILURE() << segment.error();
    return;
  }
  segment_ = std::move(*segment);
  Result<Registry> registry = Registry::Create(*segment_, specs, kMaxWorkers);
  if (!registry.ok()) {
    ADD_FAILURE() << registry.error();
    return;
  }
  registry_ = *registry;
  segment_->Publish();
}

DaemonlessSegment::~DaemonlessSegment() { (void)Segment::Remove(name_); }

void DaemonlessSegment::Publish(const std::string& upstream, double version) {
  ASSERT_TRUE(dict().Set("v:" + upstream, DictValue(version)).ok());
  std::optional<size_t> u = registry_->FindUpstream(upstream);
  ASSERT_TRUE(u.has_value()) << upstream;
  uint64_t bits;
  std::memcpy(&bits, &version, sizeof(bits));
  registry_->version_hint(*u)->store(bits);
}

void DaemonlessSegment::SetDown(const std::string& upstream, bool backup, uint32_t id, bool down) {
  const std::string key = fmt::format("d:{}:{}{}", upstream, backup ? 'b' : 'p', id);
  if (down) {
    ASSERT_TRUE(dict().Set(key, DictValue(true)).ok());
  } else {
    ASSERT_TRUE(dict().Delete(key).ok());
  }
}

uint32_t DaemonlessSegment::AddWorker(int32_t pid, WorkerState state, uint32_t checkers) {
  Result<uint32_t> slot = registry_->ClaimWorkerSlot(pid);
  EXPECT_TRUE(slot.ok()) << slot.error();
  if (!slot.ok()) return 0;
  registry_->SetWorkerState(*slot, state);
  registry_->SetWorkerCheckers(*slot, checkers);
  return *slot;
}

void DaemonlessSegment::RecordCheck(const std::string& upstream, bool backup, uint32_t id, bool ok,
                                    int64_t unix_ms, int transition) {
  PeerCheckEvent e;
  e.upstream = upstream;
  e.backup = backup;
  e.id = id;
  e.kind = ok ? ProbeKind::kOk : ProbeKind::kStatusCode;
  e.detail = ok ? "" : "404";
  e.unix_ms = unix_ms;
  e.duration_ms = 0.5;
  e.transition = transition > 0   ? HealthTransition::kTurnedUp
                 : transition < 0 ? HealthTransition::kTurnedDown
                                  : HealthTransition::kUnchanged;
  e.down = !ok;
  registry_->RecordCheck(e);
}

pid_t ReapedChildPid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return pid;
}

int64_t UnixNowMs() {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

ProcessResult RunTool(const char* env_var, const std::vector<std::string>& args) {
  const char* path = std::getenv(env_var);
  if (path == nullptr) {
    ADD_FAILURE() << "set " << env_var << " to the tool's binary";
    return {};
  }
  std::vector<std::string> argv{path};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = RunProcess(argv);
  EXPECT_FALSE(r.timed_out);
  return r;
}

::testing::AssertionResult IsOneLineError(const ProcessResult& r, const std::string& tool,
                                          const std::string& needle) {
  const std::string prefix = tool + ": ";
  if (r.exit_code != 1) {
    return ::testing::AssertionFailure() << "exit " << r.exit_code << ", stderr: " << r.err;
  }
  if (!r.out.empty()) return ::testing::AssertionFailure() << "stdout: " << r.out;
  if (r.err.rfind(prefix, 0) != 0 || std::count(r.err.begin(), r.err.end(), '\n') != 1 ||
      r.err.back() != '\n') {
    return ::testing::AssertionFailure() << "not one prefixed line: [" << r.err << "]";
  }
  if (r.err.find(needle) == std::string::npos) {
    return ::testing::AssertionFailure() << "[" << r.err << "] lacks [" << needle << "]";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace upcheck::testing
