#include "check/log_context.h"

#include <string>
#include <string_view>

namespace upcheck {

std::string UpstreamLogContext(std::string_view upstream) {
  return std::string(", upstream: \"").append(upstream).append("\"");
}

std::string TransitionLogContext(std::string_view upstream, size_t primaries_up, size_t primaries) {
  return UpstreamLogContext(upstream) + ", primaries up: " + std::to_string(primaries_up) + "/" +
         std::to_string(primaries);
}

}  // namespace upcheck
