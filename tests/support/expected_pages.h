// The original's status pages as its tests spell them out (original-tests.md), built from
// names and states: what a test expects status_page() and prometheus_status_page() to give,
// whichever host (the C++ checker, upcheckd, nginx) renders them.
#ifndef UPCHECK_TESTS_SUPPORT_EXPECTED_PAGES_H_
#define UPCHECK_TESTS_SUPPORT_EXPECTED_PAGES_H_

#include <string>
#include <vector>

namespace upcheck::testing {

// One upstream of status_page(): each entry of primary/backup is "<peer> UP|DOWN".
inline std::string Page(const std::string& upstream, const std::vector<std::string>& primary,
                        const std::vector<std::string>& backup, bool no_checkers = false) {
  std::string s =
      "Upstream " + upstream + (no_checkers ? " (NO checkers)" : "") + "\n    Primary Peers\n";
  for (const auto& p : primary) s += "        " + p + "\n";
  s += "    Backup Peers\n";
  for (const auto& p : backup) s += "        " + p + "\n";
  return s;
}

inline constexpr const char* kPromHeader =
    "# HELP nginx_upstream_status_info The running status of nginx upstream\n"
    "# TYPE nginx_upstream_status_info gauge\n";

// A peer's two prometheus_status_page() lines; role is "PRIMARY" or "BACKUP".
inline std::string PromPeer(const std::string& u, const std::string& p, bool up, const char* role) {
  std::string base =
      "nginx_upstream_status_info{name=\"" + u + "\",endpoint=\"" + p + "\",status=\"";
  return base + "UP\",role=\"" + role + "\"} " + (up ? "1" : "0") + "\n" + base + "DOWN\",role=\"" +
         role + "\"} " + (up ? "0" : "1") + "\n";
}

// An upstream's three summary lines.
inline std::string PromSummary(const std::string& u, int up, int down, int unknown) {
  std::string base = "nginx_upstream_status_info{name=\"" + u + "\",status=\"";
  return base + "UP\"} " + std::to_string(up) + "\n" + base + "DOWN\"} " + std::to_string(down) +
         "\n" + base + "UNKNOWN\"} " + std::to_string(unknown) + "\n";
}

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_EXPECTED_PAGES_H_
