// NginxScenario: a fixture for the original's scenarios hosted in nginx with the upcheck
// module: it writes the http{} body (upcheck_shm, the upstreams with their upcheck_check
// words, a server with the status pages and a proxy through foo.com), starts nginx with one
// worker as Test::Nginx ran the original, and reads what the original's tests read: the
// status pages, the log as original-tests.md's event tokens, the peers picked by proxy_pass.
// Waits count probes in the log (an event), never time. Test thread only.
#ifndef UPCHECK_TESTS_INTEGRATION_NGINX_NGINX_SCENARIO_H_
#define UPCHECK_TESTS_INTEGRATION_NGINX_NGINX_SCENARIO_H_

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "expected_pages.h"
#include "nginx_process.h"

namespace upcheck::testing {

using Events = std::vector<std::string>;  // log tokens, lines or peer names, in order
using Words = std::vector<std::string>;   // a command line's arguments

// The standard probe request R, as upcheck_check's quoted word writes it.
inline constexpr const char* kHttpReqWord =
    R"("http_req=GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n")";
inline constexpr const char* kHttpReq = "GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n";

struct ServerLine {
  std::string address;
  std::string flags{};  // "backup", "down", ...
};

struct UpstreamBlock {
  std::string name;
  std::vector<ServerLine> servers;
  std::string check{};     // upcheck_check's words; "" for an upstream without a checker
  std::string balancer{};  // "least_conn", "hash $arg_k", "ip_hash"; "" for round robin
};

// `text` with the regex metacharacters escaped, for NginxProcess::WaitForLog.
std::string RegexQuote(const std::string& text);

// The log's `healthcheck:` lines as tokens: OK(x), FAIL(x), DOWN(x,n), UP(x,n), PUB(n),
// UPG(n), BADCODE(x,c), with full peer names. Only `kinds` are kept.
Events LogEvents(const std::string& log, const std::set<std::string>& kinds);
// "[level] text" of every `healthcheck:` line in order, text from "healthcheck: " on.
std::vector<std::string> HealthcheckLines(const std::string& log);

// Whether `events` is `prefix`, then `cycle` at least `min_cycles` times, then possibly
// the beginning of one more cycle (the log was read while a cycle ran).
::testing::AssertionResult PrefixThenCycles(const Events& events, const Events& prefix,
                                            const Events& cycle, int min_cycles);
Events Concat(std::initializer_list<Events> parts);

class NginxScenario : public ::testing::Test {
 protected:
  NginxScenario() = default;
  explicit NginxScenario(NginxProcess::Options options) : nginx_(std::move(options)) {}
  void SetUp() override;

  // Starts nginx with these upstreams (and `shm_size` for upcheck_shm). Proxied requests
  // go to `proxy` through `location /`.
  void Start(const std::vector<UpstreamBlock>& upstreams, const std::string& shm_size = "1m",
             const std::string& proxy = "foo.com");
  std::string HttpBody(const std::vector<UpstreamBlock>& upstreams, const std::string& shm_size,
                       const std::string& proxy) const;

  // Waits until `peer` has been probed `probes` times (its "was checked to be" lines).
  bool WaitForProbes(const std::string& peer, int probes);
  bool WaitForLine(const std::string& text, int count = 1);

  // The body of GET `path` (status 200 and an X-Worker-Pid header expected).
  std::string Fetch(const std::string& path);
  std::string StatusPage() { return Fetch("/status"); }
  // The peers that `n` proxied requests went to ($upstream_addr).
  Events Picks(int n = 2);
  Events Tokens(const std::set<std::string>& kinds) const {
    return LogEvents(nginx_.ErrorLog(), kinds);
  }
  // upcheck-shmctl -s <this test's segment> args...: its stdout (exit 0 expected).
  std::string ShmctlOut(const Words& args);
  bool Logged(const std::string& text) const { return Count(text) > 0; }
  int Count(const std::string& text) const;

  NginxProcess nginx_;
  std::string shm_;
  int port_ = 0;
};

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_INTEGRATION_NGINX_NGINX_SCENARIO_H_
