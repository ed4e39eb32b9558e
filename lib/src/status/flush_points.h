// Where the page renderers hand a growing page to a PageFlush (status_pages.h).
#ifndef UPCHECK_STATUS_FLUSH_POINTS_H_
#define UPCHECK_STATUS_FLUSH_POINTS_H_

#include <cstddef>
#include <string>

#include "upcheck/status_pages.h"

namespace upcheck {

class FlushPoints {
 public:
  FlushPoints(const PageFlush& flush, const std::string& page)
      : flush_(flush), next_(flush ? page.size() + kBytes : SIZE_MAX) {}

  // After each line or record: one comparison unless the page grew by kBytes since the
  // last call.
  void Check(const std::string& page) {
    if (page.size() < next_) return;
    flush_(page);
    next_ = page.size() + kBytes;
  }

 private:
  static constexpr size_t kBytes = size_t{128} << 10;
  const PageFlush& flush_;
  size_t next_;
};

}  // namespace upcheck

#endif  // UPCHECK_STATUS_FLUSH_POINTS_H_
