#include "cluster_fixture.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "slow_tool.h"
#include "test_names.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

std::string RegexEscape(const std::string& text) {
  static const std::regex kSpecial(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(text, kSpecial, R"(\$&)");
}

bool Contains(const std::vector<pid_t>& pids, pid_t pid) {
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

// Inodes ("12345") of the established TCP sockets whose remote end is 127.0.0.1:port.
std::set<std::string> SocketsTo(int port) {
  std::ifstream in("/proc/net/tcp");
  std::set<std::string> inodes;
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
    std::istringstream fields(line);
    std::string sl, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> sl >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >>
        inode;
    const std::string loopback = "0100007F:";  // 127.0.0.1, little-endian hex
    if (state != "01" || remote.rfind(loopback, 0) != 0) continue;
    if (std::stoi(remote.substr(loopback.size()), nullptr, 16) == port) inodes.insert(inode);
  }
  return inodes;
}

}  // namespace

pid_t ConnectedTo(const std::vector<pid_t>& pids, int port) {
  const std::set<std::string> inodes = SocketsTo(port);
  for (pid_t pid : pids) {
    std::error_code ec;
    for (const auto& fd :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
      const std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
      // "socket:[12345]"
      if (target.rfind("socket:[", 0) == 0 &&
          inodes.count(target.substr(8, target.size() - 9)) > 0) {
        return pid;
      }
    }
  }
  return 0;
}

bool PollFor(const std::function<bool()>& done, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + Slow(deadline);
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string PeerLine(const std::string& address, bool up) {
  return "        " + address + (up ? " UP" : " DOWN");
}

std::vector<std::string> PeerLines(const std::string& page) {
  std::vector<std::string> lines;
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("        ", 0) == 0) lines.push_back(line);
  }
  return lines;
}

NginxClusterTest::NginxClusterTest()
    : shm_(UniqueSegmentName("cluster")),
      nginx_(NginxProcess::Options{.workers = kWorkers, .log_level = "notice"}) {}

void NginxClusterTest::SetUp() {
  if (NginxProcess::ModulePath().empty()) GTEST_SKIP() << "UPCHECK_NGINX_MODULE is not set";
  port_ = FreeLoopbackPort();
  ASSERT_GT(port_, 0);
}

std::string NginxClusterTest::HttpBody(const ClusterConf& conf) const {
  std::ostringstream body;
  body << "upcheck_shm " << shm_ << " " << conf.shm_size << ";\n"
       << "upstream " << kUpstream << " {\n";
  for (const std::string& server : conf.servers) body << "    server " << server << ";\n";
  body << "    upcheck_check type=http interval=" << conf.interval_ms
       << " timeout=" << conf.timeout_ms << " fall=" << conf.fall << " rise=" << conf.rise
       << " valid_statuses=200 \"http_req=GET " << kProbePath
       << " HTTP/1.0\\r\\nHost: up\\r\\n\\r\\n\";\n"
       << "}\n"
       // reuseport: the kernel spreads connections over every worker, so each one answers.
       << "server {\n"
       << "    listen 127.0.0.1:" << port_ << " reuseport;\n"
       << "    location = /status { upcheck_status; }\n"
       << "    location / {\n"
       << "        proxy_pass http://" << kUpstream << ";\n"
       << "        add_header X-Worker-Pid $pid always;\n"
       << "    }\n"
       << "}\n";
  return body.str();
}

void NginxClusterTest::StartCluster(const ClusterConf& conf) {
  Status started = nginx_.Start(HttpBody(conf));
  ASSERT_TRUE(started.ok()) << started.message();
  ASSERT_TRUE(WaitForCycles({}, 1)) << "not every worker ran a check cycle\n" << nginx_.ErrorLog();
}

void NginxClusterTest::ReloadCluster(const ClusterConf& conf) {
  Status reloaded = nginx_.Reload(HttpBody(conf));
  ASSERT_TRUE(reloaded.ok()) << reloaded.message();
  ASSERT_TRUE(WaitForCycles({}, 1)) << "not every new worker ran a check cycle\n"
                                    << nginx_.ErrorLog();
}

std::optional<DictValue> NginxClusterTest::DictGet(const std::string& key) const {
  Result<std::unique_ptr<Segment>> segment = Segment::Open(shm_);
  if (!segment.ok()) return std::nullopt;
  Result<std::optional<DictValue>> value = (*segment)->dict().Get(key);
  return value.ok() ? *value : std::nullopt;
}

bool NginxClusterTest::DictSet(const std::string& key, double value) const {
  Result<std::unique_ptr<Segment>> segment = Segment::Open(shm_);
  return segment.ok() && (*segment)->dict().Set(key, DictValue(value)).status.ok();
}

double NginxClusterTest::Version() const {
  std::optional<DictValue> v = DictGet(std::string("v:") + kUpstream);
  return v && std::holds_alternative<double>(*v) ? std::get<double>(*v) : 0;
}

std::vector<WorkerRow> NginxClusterTest::LiveRows() const {
  Result<std::unique_ptr<Segment>> segment = Segment::Open(shm_);
  if (!segment.ok()) return {};
  Result<Registry> registry = Registry::Attach(**segment);
  if (!registry.ok()) return {};
  const std::vector<pid_t> running = nginx_.WorkerPids();
  std::vector<WorkerRow> rows;
  for (WorkerRow& row : registry->Workers()) {
    if (Contains(running, row.pid)) rows.push_back(std::move(row));
  }
  return rows;
}

std::map<pid_t, uint64_t> NginxClusterTest::Cycles() const {
  std::map<pid_t, uint64_t> cycles;
  for (const WorkerRow& row : LiveRows()) cycles[row.pid] = row.cycles;
  return cycles;
}

uint64_t NginxClusterTest::FewestSince(const std::map<pid_t, uint64_t>& base) const {
  std::optional<uint64_t> fewest;
  for (const auto& [pid, cycles] : Cycles()) {
    auto it = base.find(pid);
    if (it == base.end()) continue;
    const uint64_t ended = cycles >= it->second ? cycles - it->second : 0;
    fewest = std::min(fewest.value_or(ended), ended);
  }
  return fewest.value_or(0);
}

uint64_t NginxClusterTest::MostSince(const std::map<pid_t, uint64_t>& base) const {
  uint64_t most = 0;
  for (const auto& [pid, cycles] : Cycles()) {
    auto it = base.find(pid);
    if (it != base.end() && cycles >= it->second) most = std::max(most, cycles - it->second);
  }
  return most;
}

bool NginxClusterTest::WaitForCycles(const std::map<pid_t, uint64_t>& base, uint64_t n) const {
  return PollFor([&] {
    const std::map<pid_t, uint64_t> now = Cycles();
    if (now.size() != static_cast<size_t>(kWorkers)) return false;
    for (const auto& [pid, cycles] : now) {
      auto it = base.find(pid);
      if (cycles < (it == base.end() ? 0 : it->second) + n) return false;
    }
    return true;
  });
}

bool NginxClusterTest::WaitForLocalVersions(double version) const {
  return PollFor([&] {
    const std::vector<WorkerRow> rows = LiveRows();
    // "up" is the only upstream: index 0 of each row's versions.
    return rows.size() == static_cast<size_t>(kWorkers) &&
           std::all_of(rows.begin(), rows.end(), [&](const WorkerRow& row) {
             return !row.versions.empty() && row.versions[0] == version;
           });
  });
}

Result<Proxied> NginxClusterTest::Proxy(int n) const {
  Result<HttpReply> reply = Get(port_, "/r/" + std::to_string(n));
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    return Result<Proxied>::Error("status " + std::to_string(reply->status) + ": " + reply->body);
  }
  return Proxied{.worker = std::atoi(reply->headers["x-worker-pid"].c_str()),
                 .backend_port = std::atoi(reply->body.c_str())};
}

std::map<pid_t, std::string> NginxClusterTest::StatusPages() const {
  const std::vector<pid_t> running = nginx_.WorkerPids();
  std::map<pid_t, std::string> pages;
  // The kernel's reuseport hash picks the worker; a few hundred tries reach all four.
  for (int i = 0; i < 400 && pages.size() < running.size(); ++i) {
    Result<HttpReply> reply = Get(port_, "/status");
    if (!reply.ok() || reply->status != 200) continue;
    const pid_t pid = std::atoi(reply->headers["x-worker-pid"].c_str());
    if (Contains(running, pid)) pages[pid] = reply->body;
  }
  return pages;
}

bool NginxClusterTest::WaitForEveryPage(const std::vector<std::string>& lines) const {
  return PollFor([&] {
    const std::map<pid_t, std::string> pages = StatusPages();
    if (pages.size() != static_cast<size_t>(kWorkers)) return false;
    for (const auto& [pid, page] : pages) {
      const std::vector<std::string> have = PeerLines(page);
      for (const std::string& line : lines) {
        if (std::find(have.begin(), have.end(), line) == have.end()) return false;
      }
    }
    return true;
  });
}

pid_t NginxClusterTest::WaitForTurnedDown(const std::string& address, int failures,
                                          double version) const {
  const std::string pattern = R"(\[warn\] (\d+)#\d+: (\*\d+ )?healthcheck: peer )" +
                              RegexEscape(address) + " is turned down after " +
                              std::to_string(failures) + R"( failure\(s\))";
  if (!nginx_.WaitForLog(pattern)) return 0;
  if (!PollFor([&] { return Version() >= version; })) return 0;
  std::smatch match;
  const std::string log = nginx_.ErrorLog();
  if (!std::regex_search(log, match, std::regex(pattern))) return 0;
  return std::atoi(match[1].str().c_str());
}

}  // namespace upcheck::testing
