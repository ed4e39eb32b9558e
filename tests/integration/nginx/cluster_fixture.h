// NginxClusterTest: the fixture of the multi-worker nginx tests. Real nginx with four
// workers and the upcheck module, one checked upstream "up" over ClusterBackends, a
// proxy_pass location that names the answering worker, and readers of the live segment
// (the dict, the worker table) that open it by name as the tools do. Test thread only;
// waits poll with a deadline or count protocol units (cycles, probes at a backend).
#ifndef UPCHECK_TESTS_INTEGRATION_NGINX_CLUSTER_FIXTURE_H_
#define UPCHECK_TESTS_INTEGRATION_NGINX_CLUSTER_FIXTURE_H_

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster_backend.h"
#include "nginx_process.h"
#include "upcheck/internal/registry.h"
#include "upcheck/shared_dict.h"

namespace upcheck::testing {

inline constexpr int kWorkers = 4;
inline constexpr char kUpstream[] = "up";
inline constexpr char kProbePath[] = "/health";

// What a configuration varies: the upstream's servers in order, the check, the zone size.
struct ClusterConf {
  std::vector<std::string> servers;
  int interval_ms = 100;
  int timeout_ms = 1000;
  int fall = 2;
  int rise = 2;
  std::string shm_size = "1m";
};

// Where a proxied request went: the worker that answered, the backend's port it reached.
struct Proxied {
  pid_t worker = 0;
  int backend_port = 0;
};

class NginxClusterTest : public ::testing::Test {
 protected:
  NginxClusterTest();
  void SetUp() override;

  // The body of http{} for `conf`.
  std::string HttpBody(const ClusterConf& conf) const;
  // Starts nginx; waits until every worker has ended a check cycle.
  void StartCluster(const ClusterConf& conf);
  // Reloads; waits until the new workers have ended a check cycle.
  void ReloadCluster(const ClusterConf& conf);

  // The dict's value for `key`, nullopt when missing (or when the segment is).
  std::optional<DictValue> DictGet(const std::string& key) const;
  bool DictSet(const std::string& key, double value) const;
  double Version() const;  // v:up, 0 when not published
  // The worker table's rows of the running workers (nginx_.WorkerPids()).
  std::vector<WorkerRow> LiveRows() const;
  std::map<pid_t, uint64_t> Cycles() const;  // pid -> cycles, running workers
  // The fewest cycles any of `base`'s workers still running has ended since `base`.
  uint64_t FewestSince(const std::map<pid_t, uint64_t>& base) const;
  uint64_t MostSince(const std::map<pid_t, uint64_t>& base) const;
  // Every running worker has ended `n` cycles since `base` (or since start, base empty).
  bool WaitForCycles(const std::map<pid_t, uint64_t>& base, uint64_t n) const;
  // Every running worker's local version of "up" is `version`.
  bool WaitForLocalVersions(double version) const;

  // GET /r/<n> through proxy_pass.
  Result<Proxied> Proxy(int n) const;
  // upcheck_status's page from every running worker, by pid (asks until each answered).
  std::map<pid_t, std::string> StatusPages() const;
  // Waits until every running worker's page has `line` ("        127.0.0.1:P DOWN").
  bool WaitForEveryPage(const std::vector<std::string>& lines) const;

  // Waits for "peer ADDR is turned down after N failure(s)" and the published version.
  // Returns the pid that logged it, 0 if it did not come.
  pid_t WaitForTurnedDown(const std::string& address, int failures, double version) const;

  std::string shm_;
  int port_ = 0;
  NginxProcess nginx_;
};

// "        ADDR UP" / "        ADDR DOWN": a peer line of status_page().
std::string PeerLine(const std::string& address, bool up);
// The peer lines of a status page, in order.
std::vector<std::string> PeerLines(const std::string& page);
// The first of `pids` that holds an established TCP connection to 127.0.0.1:port (from
// /proc/net/tcp and /proc/PID/fd), 0 if none does.
pid_t ConnectedTo(const std::vector<pid_t>& pids, int port);
// Polls `done` every 10 ms until it holds or the deadline (stretched under valgrind).
bool PollFor(const std::function<bool()>& done,
             std::chrono::milliseconds deadline = std::chrono::seconds(30));

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_INTEGRATION_NGINX_CLUSTER_FIXTURE_H_
