// The shared dict across real forked processes on a real segment: atomic totals, and a
// holder killed inside the lock neither blocks the others nor leaves the dict broken.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <vector>

#include "test_names.h"
#include "upcheck/segment.h"

namespace upcheck {
namespace {

using Clock = std::chrono::steady_clock;

// Runs body in a forked child that exits 0 unless body returns false.
pid_t Fork(const std::function<bool()>& body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body() ? 0 : 1);
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

// Reads one byte from fd, waiting at most timeout_ms. Returns false on timeout or EOF.
bool ReadByte(int fd, int timeout_ms) {
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) return false;
  char c;
  return read(fd, &c, 1) == 1;
}

class DictMultiProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Segment::Create({.name = name_, .size = 1 << 20});
    ASSERT_TRUE(s.ok()) << s.error();
    segment_ = std::move(*s);
    segment_->Publish();
  }
  void TearDown() override {
    Status st = segment_->dict().Verify();
    EXPECT_TRUE(st.ok()) << st.message();
    (void)Segment::Remove(name_);
  }
  std::string name_ = testing::UniqueSegmentName("mp");
  std::unique_ptr<Segment> segment_;
};

TEST_F(DictMultiProcessTest, ConcurrentIncrAddSetAreExact) {
  constexpr int kProcs = 4;
  constexpr int kOps = 5000;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    kids.push_back(Fork([&, p] {
      // A child opens the segment by name, as a tool would.
      auto seg = Segment::Open(name_);
      if (!seg.ok()) return false;
      SharedDict& d = (*seg)->dict();
      for (int i = 0; i < kOps; ++i) {
        if (!d.Incr("total", 1, 0.0).ok()) return false;
        // Exactly one process wins each add.
        if (d.Add("slot:" + std::to_string(i % 500), DictValue(double(p))).ok()) {
          if (!d.Incr("adds", 1, 0.0).ok()) return false;
        }
        d.Set("last:" + std::to_string(p), DictValue(double(i)));
      }
      return true;
    }));
  }
  for (pid_t k : kids) EXPECT_EQ(Wait(k), 0);
  SharedDict& d = segment_->dict();
  EXPECT_EQ(**d.Get("total"), DictValue(double(kProcs * kOps)));
  EXPECT_EQ(**d.Get("adds"), DictValue(500.0));
  for (int p = 0; p < kProcs; ++p) {
    EXPECT_EQ(**d.Get("last:" + std::to_string(p)), DictValue(double(kOps - 1)));
  }
}

// The child stops inside the dict lock at its n-th mutation; the test kills it there.
int g_hook_fd = -1;
int g_hook_countdown = 0;
void StopInsideLock() {
  if (--g_hook_countdown != 0) return;
  char c = 'x';
  (void)!write(g_hook_fd, &c, 1);
  for (;;) pause();
}

pid_t ForkHolderThatStops(const std::string& name, int nth, int* ready_fd) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    auto seg = Segment::Open(name);
    if (!seg.ok()) _exit(2);
    g_hook_fd = fds[1];
    g_hook_countdown = nth;
    SharedDict::SetLockedHookForTesting(&StopInsideLock);
    SharedDict& d = (*seg)->dict();
    for (int i = 0;; ++i) {
      std::string key = "k" + std::to_string(i % 37);
      switch (i % 5) {
        case 0:
          d.Set(key, DictValue(std::string(i % 150, 's')));
          break;
        case 1:
          d.Incr("counter", 1, 0.0);
          break;
        case 2:
          d.Delete(key);
          break;
        case 3:
          d.Set(key, DictValue(true), 1000);
          break;
        case 4:
          d.Add("a" + key, DictValue(1.0));
          break;
      }
    }
  }
  close(fds[1]);
  *ready_fd = fds[0];
  return pid;
}

TEST_F(DictMultiProcessTest, HolderKilledInsideLockDoesNotBlockOthers) {
  int ready = -1;
  pid_t holder = ForkHolderThatStops(name_, 3, &ready);
  ASSERT_TRUE(ReadByte(ready, 10000)) << "the holder never reached the lock hook";

  // A second process now waits for the lock the holder keeps.
  int done[2];
  ASSERT_EQ(pipe(done), 0);
  pid_t waiter = Fork([&] {
    auto seg = Segment::Open(name_);
    if (!seg.ok()) return false;
    bool ok = (*seg)->dict().Incr("waiter", 1, 0.0).ok();
    char c = 'w';
    return ok && write(done[1], &c, 1) == 1;
  });
  close(done[1]);
  EXPECT_FALSE(ReadByte(done[0], 200)) << "the waiter got the lock while the holder held it";

  kill(holder, SIGKILL);
  EXPECT_TRUE(WIFSIGNALED(Wait(holder)));
  auto killed_at = Clock::now();
  ASSERT_TRUE(ReadByte(done[0], 5000)) << "the waiter never got the lock";
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at);
  EXPECT_LT(waited.count(), 100) << "the lock of a dead holder must be recovered within 100 ms";
  EXPECT_EQ(Wait(waiter), 0);
  close(done[0]);
  close(ready);

  SharedDict& d = segment_->dict();
  EXPECT_EQ(**d.Get("waiter"), DictValue(1.0));
  Status st = d.Verify();
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST_F(DictMultiProcessTest, KilledAtEveryMutationPointTheDictStaysConsistent) {
  SharedDict& d = segment_->dict();
  for (int nth = 1; nth <= 40; ++nth) {
    int ready = -1;
    pid_t holder = ForkHolderThatStops(name_, nth, &ready);
    ASSERT_TRUE(ReadByte(ready, 10000)) << nth;
    kill(holder, SIGKILL);
    Wait(holder);
    close(ready);
    // The next operation repairs, and the dict is whole and usable.
    ASSERT_TRUE(d.Set("after", DictValue(double(nth))).ok());
    Status st = d.Verify();
    ASSERT_TRUE(st.ok()) << "after a kill at mutation " << nth << ": " << st.message();
    EXPECT_EQ(**d.Get("after"), DictValue(double(nth)));
  }
}

}  // namespace
}  // namespace upcheck
