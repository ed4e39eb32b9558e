// Wall-clock time for the records people read (registry timestamps, check events).
// The dict's TTLs use CLOCK_MONOTONIC instead (shared_dict.cc, Q19).
#ifndef UPCHECK_UTIL_CLOCK_H_
#define UPCHECK_UTIL_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace upcheck {

// Unix time in ms (CLOCK_REALTIME).
inline int64_t UnixMs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace upcheck

#endif  // UPCHECK_UTIL_CLOCK_H_
