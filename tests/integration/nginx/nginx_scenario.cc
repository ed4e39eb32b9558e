#include "nginx_scenario.h"

#include <cstdlib>
#include <regex>
#include <sstream>

#include "subprocess.h"
#include "test_names.h"

namespace upcheck::testing {

std::string RegexQuote(const std::string& text) {
  static const std::string kSpecial = R"(\^$.|?*+()[]{})";
  std::string out;
  for (char c : text) {
    if (kSpecial.find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

namespace {

// Whole lines only: the last one may still be being written.
std::vector<std::string> CompleteLines(const std::string& log) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl = log.find('\n'); nl != std::string::npos; nl = log.find('\n', start)) {
    lines.push_back(log.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

struct Kind {
  const char* token;
  std::regex pattern;
  bool has_number;  // the second group is a count or a status: TOKEN(x,n)
};

const std::vector<Kind>& Kinds() {
  // Lines about a peer end in its upstream; a transition also in the primaries up.
  const std::string about = R"(, upstream: "[^"]+"$)";
  const std::string moved = R"(, upstream: "[^"]+", primaries up: \d+/\d+$)";
  static const std::vector<Kind> kinds = {
      {"OK", std::regex(R"(^peer (\S+) was checked to be ok)" + about), false},
      {"FAIL", std::regex(R"(^peer (\S+) was checked to be not ok)" + about), false},
      {"DOWN", std::regex(R"(^peer (\S+) is turned down after (\d+) failure\(s\))" + moved), true},
      {"UP", std::regex(R"(^peer (\S+) is turned up after (\d+) success\(es\))" + moved), true},
      {"PUB", std::regex(R"(^publishing peers version (\d+)$)"), false},
      {"UPG", std::regex(R"(^upgrading peers version to (\d+)$)"), false},
      {"BADCODE", std::regex(R"(^bad status code from (\S+): (\d+))" + about), true},
  };
  return kinds;
}

std::string Token(const std::string& text, const std::set<std::string>& wanted) {
  std::smatch m;
  for (const Kind& k : Kinds()) {
    if (!wanted.count(k.token) || !std::regex_search(text, m, k.pattern)) continue;
    return std::string(k.token) + "(" + m[1].str() + (k.has_number ? "," + m[2].str() : "") + ")";
  }
  return "";
}

}  // namespace

std::vector<std::string> HealthcheckLines(const std::string& log) {
  static const std::regex kLevel(R"( \[(\w+)\] )");
  std::vector<std::string> out;
  for (const std::string& line : CompleteLines(log)) {
    size_t at = line.find("healthcheck: ");
    std::smatch level;
    if (at == std::string::npos || !std::regex_search(line, level, kLevel)) continue;
    out.push_back("[" + level[1].str() + "] " + line.substr(at));
  }
  return out;
}

Events LogEvents(const std::string& log, const std::set<std::string>& kinds) {
  Events out;
  for (const std::string& line : HealthcheckLines(log)) {
    std::string token = Token(line.substr(line.find("healthcheck: ") + 13), kinds);
    if (!token.empty()) out.push_back(token);
  }
  return out;
}

::testing::AssertionResult PrefixThenCycles(const Events& events, const Events& prefix,
                                            const Events& cycle, int min_cycles) {
  auto text = [](const Events& e, size_t from) {
    std::string s;
    for (size_t i = from; i < e.size(); ++i) s += e[i] + " ";
    return s;
  };
  auto fail = [&](const std::string& why) {
    return ::testing::AssertionFailure()
           << why << "\n  events: " << text(events, 0) << "\n  prefix: " << text(prefix, 0)
           << "\n  cycle:  " << text(cycle, 0) << " x >= " << min_cycles;
  };
  if (events.size() < prefix.size() || !std::equal(prefix.begin(), prefix.end(), events.begin()))
    return fail("the log does not begin with the prefix");
  size_t i = prefix.size();
  int whole = 0;
  for (size_t k = 0; i < events.size(); ++i, ++k) {
    if (events[i] != cycle[k % cycle.size()]) return fail("unexpected at " + std::to_string(i));
    if (k % cycle.size() == cycle.size() - 1) ++whole;
  }
  if (whole < min_cycles) return fail("only " + std::to_string(whole) + " whole cycles");
  return ::testing::AssertionSuccess();
}

Events Concat(std::initializer_list<Events> parts) {
  Events out;
  for (const Events& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

void NginxScenario::SetUp() {
  if (NginxProcess::ModulePath().empty()) GTEST_SKIP() << "UPCHECK_NGINX_MODULE is not set";
  shm_ = UniqueSegmentName("ngx");
}

std::string NginxScenario::HttpBody(const std::vector<UpstreamBlock>& upstreams,
                                    const std::string& shm_size, const std::string& proxy) const {
  std::ostringstream b;
  b << "upcheck_shm " << shm_ << " " << shm_size << ";\n";
  for (const UpstreamBlock& u : upstreams) {
    b << "upstream " << u.name << " {\n";
    if (!u.balancer.empty()) b << "    " << u.balancer << ";\n";
    for (const ServerLine& s : u.servers) {
      b << "    server " << s.address << (s.flags.empty() ? "" : " " + s.flags) << ";\n";
    }
    if (!u.check.empty()) b << "    upcheck_check " << u.check << ";\n";
    b << "}\n";
  }
  b << "server {\n    listen 127.0.0.1:" << port_ << ";\n"
    << "    location = /status { upcheck_status; }\n"
    << "    location = /metrics { upcheck_status prometheus; }\n"
    << "    location = /status.json { upcheck_status json; }\n";
  if (!proxy.empty()) {
    // One try per request, so $upstream_addr names the one peer picked.
    b << "    location / { proxy_pass http://" << proxy << "; proxy_next_upstream off; "
      << "add_header X-Upstream $upstream_addr always; }\n";
  }
  b << "}";
  return b.str();
}

void NginxScenario::Start(const std::vector<UpstreamBlock>& upstreams, const std::string& shm_size,
                          const std::string& proxy) {
  // Picked after the test's backends are bound, so that none of them can take it.
  port_ = FreeLoopbackPort();
  ASSERT_GT(port_, 0);
  Status started = nginx_.Start(HttpBody(upstreams, shm_size, proxy));
  ASSERT_TRUE(started.ok()) << started.message();
}

bool NginxScenario::WaitForProbes(const std::string& peer, int probes) {
  return nginx_.WaitForLog("healthcheck: peer " + RegexQuote(peer) + " was checked to be", probes);
}

bool NginxScenario::WaitForLine(const std::string& text, int count) {
  return nginx_.WaitForLog(RegexQuote(text), count);
}

int NginxScenario::Count(const std::string& text) const {
  return nginx_.CountLog(RegexQuote(text));
}

std::string NginxScenario::Fetch(const std::string& path) {
  Result<HttpReply> reply = Get(port_, path);
  EXPECT_TRUE(reply.ok()) << reply.error();
  if (!reply.ok()) return "";
  EXPECT_EQ(reply->status, 200) << reply->body;
  EXPECT_EQ(reply->headers.count("x-worker-pid"), 1u) << path;
  return reply->body;
}

Events NginxScenario::Picks(int n) {
  Events picks;
  for (int i = 0; i < n; ++i) {
    Result<HttpReply> reply = Get(port_, "/");
    EXPECT_TRUE(reply.ok()) << reply.error();
    picks.push_back(reply.ok() ? reply->headers["x-upstream"] : "(no answer)");
  }
  return picks;
}

std::string NginxScenario::ShmctlOut(const Words& args) {
  const char* tool = std::getenv("UPCHECK_SHMCTL");
  EXPECT_NE(tool, nullptr) << "set UPCHECK_SHMCTL to the upcheck-shmctl binary";
  if (tool == nullptr) return "";
  ProcessResult run = RunProcess(Concat({{tool, "-s", shm_}, args}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  return run.out;
}

}  // namespace upcheck::testing
