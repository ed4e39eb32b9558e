// SharedDict against a naive baseline: a Boost.Interprocess map<string, double> in a
// managed segment guarded by one interprocess_mutex. get/set/incr/add on existing keys over
// 10,000 keys, in one process and with a second process doing the same at once.
//
//   build/tests/bench/dict_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/containers/map.hpp>
#include <boost/interprocess/containers/string.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>
#include <string>
#include <vector>

#include "upcheck/segment.h"

namespace {

namespace bip = boost::interprocess;
constexpr int kKeys = 10000;

std::vector<std::string> Keys() {
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back("nok:foo.com:p" + std::to_string(i));
  return keys;
}

enum class Op { kGet, kSet, kIncr, kAdd };

// ---- upcheck -------------------------------------------------------------------------
struct UpcheckFixture {
  std::string name = "bench-" + std::to_string(getpid());
  std::unique_ptr<upcheck::Segment> seg;
  std::vector<std::string> keys = Keys();
  UpcheckFixture() {
    auto s = upcheck::Segment::Create({.name = name, .size = 4 << 20, .replace = true});
    seg = std::move(*s);
    seg->Publish();
    for (auto& k : keys) seg->dict().Set(k, upcheck::DictValue(1.0));
  }
  ~UpcheckFixture() { (void)upcheck::Segment::Remove(name); }
  void Run(Op op, size_t i) {
    upcheck::SharedDict& d = seg->dict();
    const std::string& k = keys[i % kKeys];
    switch (op) {
      case Op::kGet:
        benchmark::DoNotOptimize(d.Get(k));
        break;
      case Op::kSet:
        benchmark::DoNotOptimize(d.Set(k, upcheck::DictValue(2.0)));
        break;
      case Op::kIncr:
        benchmark::DoNotOptimize(d.Incr(k, 1));
        break;
      case Op::kAdd:
        benchmark::DoNotOptimize(d.Add(k, upcheck::DictValue(2.0)));
        break;
    }
  }
};

// ---- baseline ------------------------------------------------------------------------
using SegManager = bip::managed_shared_memory::segment_manager;
using ShmString = bip::basic_string<char, std::char_traits<char>, bip::allocator<char, SegManager>>;
using ShmPair = std::pair<const ShmString, double>;
using ShmMap =
    bip::map<ShmString, double, std::less<ShmString>, bip::allocator<ShmPair, SegManager>>;
struct BaselineShm {
  bip::interprocess_mutex mutex;
  ShmMap* map;
};

struct BaselineFixture {
  std::string name = "upcheck-bench-baseline-" + std::to_string(getpid());
  bip::managed_shared_memory seg;
  BaselineShm* root;
  std::vector<std::string> keys = Keys();
  BaselineFixture() {
    bip::shared_memory_object::remove(name.c_str());
    seg = bip::managed_shared_memory(bip::create_only, name.c_str(), 8 << 20);
    root = seg.construct<BaselineShm>("root")();
    root->map = seg.construct<ShmMap>("map")(seg.get_segment_manager());
    for (auto& k : keys) root->map->emplace(ShmString(k.c_str(), seg.get_segment_manager()), 1.0);
  }
  ~BaselineFixture() { bip::shared_memory_object::remove(name.c_str()); }
  void Run(Op op, size_t i) {
    const std::string& k = keys[i % kKeys];
    // A lookup needs a key in shm memory for this map's comparator: that is the naive cost.
    ShmString key(k.c_str(), seg.get_segment_manager());
    bip::scoped_lock<bip::interprocess_mutex> lock(root->mutex);
    auto it = root->map->find(key);
    switch (op) {
      case Op::kGet:
        benchmark::DoNotOptimize(it->second);
        break;
      case Op::kSet:
        it->second = 2.0;
        break;
      case Op::kIncr:
        it->second += 1;
        break;
      case Op::kAdd:
        benchmark::DoNotOptimize(it != root->map->end());
        break;
    }
  }
};

// A second process doing the same operation on the same store until asked to stop. It is
// asked, not killed: a baseline rival killed inside Boost's interprocess_mutex would leave
// it locked for good (the very problem the dict's robust lock solves).
std::atomic<int>* StopFlag() {
  static auto* flag =
      static_cast<std::atomic<int>*>(mmap(nullptr, sizeof(std::atomic<int>), PROT_READ | PROT_WRITE,
                                          MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  return flag;
}
template <typename F>
pid_t StartRival(F& fixture, Op op) {
  StopFlag()->store(0);
  pid_t pid = fork();
  if (pid == 0) {
    for (size_t i = 7; StopFlag()->load(std::memory_order_relaxed) == 0; i += 13)
      fixture.Run(op, i);
    _exit(0);
  }
  return pid;
}
void StopRival(pid_t pid) {
  StopFlag()->store(1);
  waitpid(pid, nullptr, 0);
}

template <typename F>
void BM_Dict(benchmark::State& state, Op op, bool two) {
  static F fixture;  // one store per type, shared by its runs, removed at exit
  pid_t rival = two ? StartRival(fixture, op) : -1;
  size_t i = 0;
  for (auto _ : state) fixture.Run(op, i++ * 7919);
  if (two) StopRival(rival);
}

}  // namespace

int main(int argc, char** argv) {
  const std::pair<const char*, Op> ops[] = {
      {"get", Op::kGet}, {"set", Op::kSet}, {"incr", Op::kIncr}, {"add", Op::kAdd}};
  for (auto [name, op] : ops) {
    for (bool two : {false, true}) {
      std::string suffix = std::string("/") + name + (two ? "/2proc" : "/1proc");
      benchmark::RegisterBenchmark(("upcheck" + suffix).c_str(), BM_Dict<UpcheckFixture>, op, two);
      benchmark::RegisterBenchmark(("baseline" + suffix).c_str(), BM_Dict<BaselineFixture>, op,
                                   two);
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
