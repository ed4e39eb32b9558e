// Chaos: a process killed inside a dict operation loses at most that operation.
//
// Each trial forks a child that runs a seeded sequence of dict operations (set of numbers,
// booleans and strings of 0-300 bytes, add, incr with and without init, delete, flush_all)
// and acknowledges each finished one on a pipe. Its locked hook kills it (SIGKILL) at a
// random point inside the lock. The test replays the same sequence on a model: the dict,
// once repaired by the next locker, must equal the model after the acknowledged operations
// or after one more (the interrupted one completed), never anything else, and Verify()
// must pass.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <string>

#include "chaos_util.h"
#include "test_names.h"
#include "upcheck/internal/dict_test_hooks.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

using Model = std::map<std::string, DictValue>;

enum class OpKind { kSetNumber, kSetBool, kSetString, kAdd, kIncr, kIncrInit, kDelete, kFlushAll };

struct Op {
  OpKind kind;
  std::string key;
  DictValue value;
  double delta = 0;
};

Op MakeOp(ChaosRandom& r) {
  Op op{OpKind::kSetNumber, "k" + std::to_string(r.Below(24)), DictValue(0.0)};
  uint64_t pick = r.Below(100);
  if (pick < 20) {
    op.kind = OpKind::kSetNumber;
    op.value = static_cast<double>(r.Below(1000));
  } else if (pick < 30) {
    op.kind = OpKind::kSetBool;
    op.value = r.Below(2) == 1;
  } else if (pick < 52) {
    op.kind = OpKind::kSetString;
    op.value = std::string(r.Below(300), static_cast<char>('a' + r.Below(26)));
  } else if (pick < 62) {
    op.kind = OpKind::kAdd;
    op.value = static_cast<double>(r.Below(1000));
  } else if (pick < 74) {
    op.kind = OpKind::kIncr;
    op.delta = 1 + static_cast<double>(r.Below(5));
  } else if (pick < 86) {
    op.kind = OpKind::kIncrInit;
    op.delta = 1 + static_cast<double>(r.Below(5));
  } else if (pick < 99) {
    op.kind = OpKind::kDelete;
  } else {
    op.kind = OpKind::kFlushAll;
  }
  return op;
}

void Apply(const Op& op, SharedDict& d) {
  switch (op.kind) {
    case OpKind::kSetNumber:
    case OpKind::kSetBool:
    case OpKind::kSetString:
      d.Set(op.key, op.value);
      break;
    case OpKind::kAdd:
      d.Add(op.key, op.value);
      break;
    case OpKind::kIncr:
      (void)d.Incr(op.key, op.delta);
      break;
    case OpKind::kIncrInit:
      (void)d.Incr(op.key, op.delta, 0.0);
      break;
    case OpKind::kDelete:
      (void)d.Delete(op.key);
      break;
    case OpKind::kFlushAll:
      d.FlushAll();
      break;
  }
}

void Apply(const Op& op, Model& m) {
  auto it = m.find(op.key);
  switch (op.kind) {
    case OpKind::kSetNumber:
    case OpKind::kSetBool:
    case OpKind::kSetString:
      m[op.key] = op.value;
      break;
    case OpKind::kAdd:
      if (it == m.end()) m[op.key] = op.value;
      break;
    case OpKind::kIncr:
      if (it != m.end() && std::holds_alternative<double>(it->second)) {
        it->second = std::get<double>(it->second) + op.delta;
      }
      break;
    case OpKind::kIncrInit:
      if (it == m.end()) {
        m[op.key] = op.delta;
      } else if (std::holds_alternative<double>(it->second)) {
        it->second = std::get<double>(it->second) + op.delta;
      }
      break;
    case OpKind::kDelete:
      if (it != m.end()) m.erase(it);
      break;
    case OpKind::kFlushAll:
      m.clear();
      break;
  }
}

Model Observe(SharedDict& d) {
  Model m;
  for (DictEntry& e : d.Snapshot("k")) m[e.key] = e.value;
  return m;
}

std::string Show(const Model& m) {
  std::string s;
  for (const auto& [k, v] : m) {
    std::string text = FormatDictValue(v);
    s += k + "=" + (text.size() > 12 ? text.substr(0, 12) + "..." : text) + " ";
  }
  return s;
}

int g_ack_fd = -1;
long g_countdown = 0;
void KillInsideLock() {
  if (--g_countdown == 0) raise(SIGKILL);
}

class DictCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Segment::Create({.name = name_, .size = 1 << 20});
    ASSERT_TRUE(s.ok()) << s.error();
    segment_ = std::move(*s);
    segment_->Publish();
  }
  void TearDown() override { (void)Segment::Remove(name_); }

  std::string name_ = UniqueSegmentName("chaosdict");
  std::unique_ptr<Segment> segment_;
};

TEST_F(DictCrashTest, KillInsideAnyOperationLosesAtMostThatOperation) {
  const int trials = EnvCount("UPCHECK_CHAOS_DICT_TRIALS", ChaosLong() ? 20000 : 1500);
  const uint64_t seed = ChaosSeed();
  std::printf("seed %llu, %d trials\n", static_cast<unsigned long long>(seed), trials);
  ChaosRandom outer(seed);
  SharedDict& d = segment_->dict();
  int killed_inside = 0;
  int completed_after_kill = 0;
  for (int t = 0; t < trials; ++t) {
    // A known start: what is left of the last trial, which the model starts from too.
    Model start = Observe(d);
    const uint64_t trial_seed = outer.Next();
    const long countdown = 1 + static_cast<long>(outer.Below(60));
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      auto seg = Segment::Open(name_);
      if (!seg.ok()) _exit(2);
      g_ack_fd = fds[1];
      g_countdown = countdown;
      SetDictLockedHookForTesting(&KillInsideLock);
      ChaosRandom r(trial_seed);
      for (uint32_t i = 0; i < 200; ++i) {
        Apply(MakeOp(r), (*seg)->dict());
        if (write(g_ack_fd, &i, sizeof(i)) != sizeof(i)) _exit(3);
      }
      _exit(0);
    }
    close(fds[1]);
    uint32_t acked = 0;  // operations finished
    uint32_t got;
    while (read(fds[0], &got, sizeof(got)) == sizeof(got)) acked = got + 1;
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    ASSERT_TRUE(killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << status;

    // The next locker repairs; then the state is the model before or after the in-flight op.
    Status verified = d.Verify();
    ASSERT_TRUE(verified.ok()) << "trial " << t << " (seed " << seed << "): " << verified.message();
    Model before = start;
    ChaosRandom r(trial_seed);
    for (uint32_t i = 0; i < acked; ++i) Apply(MakeOp(r), before);
    Model observed = Observe(d);
    if (!killed) {
      EXPECT_EQ(observed, before) << "trial " << t;
      continue;
    }
    ++killed_inside;
    Model after = before;
    Apply(MakeOp(r), after);
    if (observed == after && observed != before) ++completed_after_kill;
    ASSERT_TRUE(observed == before || observed == after)
        << "trial " << t << " (seed " << seed << ", kill at locked point " << countdown
        << ", after " << acked << " operations)\n observed: " << Show(observed)
        << "\n before:   " << Show(before) << "\n after:    " << Show(after);
  }
  std::printf("%d trials, %d killed inside the lock, %d interrupted operations completed\n", trials,
              killed_inside, completed_after_kill);
  EXPECT_GT(killed_inside, trials / 2);
}

}  // namespace
}  // namespace upcheck::testing
