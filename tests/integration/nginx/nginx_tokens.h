// The original's log-event tokens (original-tests.md §0.2) with full peer names, the event
// filters its tests use, and L3, its standard layout, as an nginx upstream block.
#ifndef UPCHECK_TESTS_INTEGRATION_NGINX_NGINX_TOKENS_H_
#define UPCHECK_TESTS_INTEGRATION_NGINX_NGINX_TOKENS_H_

#include <set>
#include <string>

#include "nginx_scenario.h"

namespace upcheck::testing {

inline const std::set<std::string> kOkFailPubUpg = {"OK", "FAIL", "PUB", "UPG"};
inline const std::set<std::string> kTransitions = {"OK", "FAIL", "DOWN", "UP", "PUB", "UPG"};
// Any error-log line at these levels (the original's must-not-log `[error]` and the like).
inline constexpr const char* kErrorWarnAlert = R"(\[(error|warn|alert)\])";

inline std::string Ok(const std::string& peer) { return "OK(" + peer + ")"; }
inline std::string Fail(const std::string& peer) { return "FAIL(" + peer + ")"; }
inline std::string Down(const std::string& peer, int n) {
  return "DOWN(" + peer + "," + std::to_string(n) + ")";
}
inline std::string Up(const std::string& peer, int n) {
  return "UP(" + peer + "," + std::to_string(n) + ")";
}
inline std::string BadCode(const std::string& peer, int code) {
  return "BADCODE(" + peer + "," + std::to_string(code) + ")";
}
inline std::string Pub(int version) { return "PUB(" + std::to_string(version) + ")"; }
inline std::string Upg(int version) { return "UPG(" + std::to_string(version) + ")"; }

// upcheck_check's words: type http, the request R, then `more`.
inline std::string Check(const std::string& more) {
  return std::string("type=http ") + kHttpReqWord + " " + more;
}

// foo.com: primary p0 (with `p0_flags`, e.g. "down"), primary p1, backup b0.
inline UpstreamBlock L3(const std::string& p0, const std::string& p1, const std::string& b0,
                        const std::string& check, const std::string& p0_flags = "") {
  return {"foo.com", {{p0, p0_flags}, {p1}, {b0, "backup"}}, check};
}

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_INTEGRATION_NGINX_NGINX_TOKENS_H_
