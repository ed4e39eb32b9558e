// Helpers shared by the chaos suite: trial counts, the long-variant switch, process
// resource figures (open fds, RSS) and a deterministic random source.
#ifndef UPCHECK_TESTS_CHAOS_CHAOS_UTIL_H_
#define UPCHECK_TESTS_CHAOS_CHAOS_UTIL_H_

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

namespace upcheck::testing {

// Whether this binary runs under AddressSanitizer (GCC defines __SANITIZE_ADDRESS__, clang
// answers __has_feature): its processes are several times slower, bounds get more slack.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kUnderAsan = true;
#else
inline constexpr bool kUnderAsan = false;
#endif
#else
inline constexpr bool kUnderAsan = false;
#endif

// UPCHECK_CHAOS_LONG=1 turns on the long variants (minutes each; see tests/chaos/README.md).
inline bool ChaosLong() {
  const char* v = std::getenv("UPCHECK_CHAOS_LONG");
  return v != nullptr && std::string(v) == "1";
}

// A count from the environment (e.g. UPCHECK_CHAOS_TRIALS), or `fallback`.
inline int EnvCount(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  int n = std::atoi(v);
  return n > 0 ? n : fallback;
}

// Open descriptors of this process.
inline int OpenFdCount() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
  }
  return n - 1;  // the DIR's own descriptor
}

// Resident set size of this process, in kB (VmRSS).
inline long RssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

// splitmix64: small, seedable, the same sequence everywhere (a failing seed reproduces).
class ChaosRandom {
 public:
  explicit ChaosRandom(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n).
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

// The seed: UPCHECK_CHAOS_SEED, or one derived from the pid (printed by the tests).
inline uint64_t ChaosSeed() {
  const char* v = std::getenv("UPCHECK_CHAOS_SEED");
  if (v != nullptr && *v != '\0') return std::strtoull(v, nullptr, 10);
  return static_cast<uint64_t>(getpid()) * 2654435761u + 12345;
}

// Polls `predicate` every 2 ms until it holds or the deadline passes.
template <typename F>
bool WaitUntil(F predicate, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    if (predicate()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_CHAOS_CHAOS_UTIL_H_
