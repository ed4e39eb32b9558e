#include "checker_harness.h"

#include <gtest/gtest.h>

#include "test_names.h"

namespace upcheck::testing {

CheckerHarness::CheckerHarness(size_t shm_size)
    : shm_name_(UniqueSegmentName("chk")),
      logger_(Logger::ToCallback(
          [this](LogLevel level, std::string_view text) {
            log_.push_back(LogLine{level, std::string(text)});
          },
          LogLevel::kDebug)) {
  auto seg = Segment::Create({.name = shm_name_, .size = shm_size});
  EXPECT_TRUE(seg.ok()) << seg.error();
  segment_ = std::move(*seg);
  segment_->Publish();
  uv_loop_init(&loop_);
}

CheckerHarness::~CheckerHarness() {
  checkers_.clear();
  // Let every handle close, then the loop must close clean (libuv's contract).
  while (uv_run(&loop_, UV_RUN_DEFAULT) != 0) {
  }
  EXPECT_EQ(uv_loop_close(&loop_), 0);
  EXPECT_TRUE(segment_->dict().Verify().ok());
  (void)Segment::Remove(shm_name_);
}

CheckOptions CheckerHarness::Options(const std::string& upstream) const {
  CheckOptions o;
  o.type = "http";
  o.http_req = "GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n";
  o.shm = shm_name_;
  o.upstream = upstream;
  return o;
}

Result<Checker*> CheckerHarness::Spawn(const CheckOptions& options) {
  CheckerEnv env;
  env.loop = &loop_;
  env.shm_name = shm_name_;
  env.dict = &segment_->dict();
  env.upstreams = &upstreams_;
  env.logger = &logger_;
  env.debug_events = true;
  env.on_cycle = [this](const CycleEvent& e) {
    if (!e.end) return;
    int n = ++cycles_[std::string(e.upstream)];
    if (e.upstream == stop_upstream_ && n >= stop_at_) uv_stop(&loop_);
  };
  env.on_check = on_check_;
  CheckerInternals internals;
  internals.test_hook = test_hook_;
  auto checker = SpawnChecker(env, options, internals);
  if (!checker.ok()) return checker.status();
  checkers_.push_back(std::move(*checker));
  return checkers_.back().get();
}

bool CheckerHarness::RunCycles(int n, const std::string& upstream,
                               std::chrono::milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  stop_upstream_ = upstream;
  stop_at_ = n;
  while (cycles(upstream) < n && std::chrono::steady_clock::now() < until) {
    uv_run(&loop_, UV_RUN_ONCE);
  }
  stop_upstream_.clear();
  return cycles(upstream) >= n;
}

void CheckerHarness::RunFor(std::chrono::milliseconds duration) {
  uv_timer_t timer;
  uv_timer_init(&loop_, &timer);
  timer.data = &loop_;
  uv_timer_start(
      &timer, [](uv_timer_t* t) { uv_stop(static_cast<uv_loop_t*>(t->data)); },
      static_cast<uint64_t>(duration.count()), 0);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  uv_run(&loop_, UV_RUN_NOWAIT);
}

int CheckerHarness::cycles(const std::string& upstream) const {
  auto it = cycles_.find(upstream);
  return it == cycles_.end() ? 0 : it->second;
}

std::vector<std::string> CheckerHarness::Picks(const std::string& upstream, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    auto p = upstreams_.Pick(upstream);
    out.push_back(p ? p->name : "(none)");
  }
  return out;
}

namespace {

std::string Short(std::string peer) {
  if (peer.rfind("127.0.0.1:", 0) == 0) return peer.substr(9);
  return peer;
}

}  // namespace

std::vector<std::string> CheckerHarness::Events(const std::set<std::string>& kinds) const {
  // Lines about a peer end in its upstream; a transition also in the primaries up.
  static const std::string about = R"(, upstream: "[^"]+"$)";
  static const std::string moved = R"(, upstream: "[^"]+", primaries up: \d+/\d+$)";
  static const std::regex ok("^healthcheck: peer (\\S+) was checked to be ok" + about);
  static const std::regex fail("^healthcheck: peer (\\S+) was checked to be not ok" + about);
  static const std::regex down(
      "^healthcheck: peer (\\S+) is turned down after (\\d+) failure\\(s\\)" + moved);
  static const std::regex up("^healthcheck: peer (\\S+) is turned up after (\\d+) success\\(es\\)" +
                             moved);
  static const std::regex pub("^healthcheck: publishing peers version (\\d+)$");
  static const std::regex upg("^healthcheck: upgrading peers version to (\\d+)$");
  static const std::regex badcode("^healthcheck: bad status code from (\\S+): (\\S+)" + about);
  std::vector<std::string> out;
  std::smatch m;
  for (const LogLine& line : log_) {
    const std::string& t = line.text;
    if (kinds.count("OK") && std::regex_match(t, m, ok)) {
      out.push_back("OK(" + Short(m[1]) + ")");
    } else if (kinds.count("FAIL") && std::regex_match(t, m, fail)) {
      out.push_back("FAIL(" + Short(m[1]) + ")");
    } else if (kinds.count("DOWN") && std::regex_match(t, m, down)) {
      out.push_back("DOWN(" + Short(m[1]) + "," + std::string(m[2]) + ")");
    } else if (kinds.count("UP") && std::regex_match(t, m, up)) {
      out.push_back("UP(" + Short(m[1]) + "," + std::string(m[2]) + ")");
    } else if (kinds.count("PUB") && std::regex_match(t, m, pub)) {
      out.push_back("PUB(" + std::string(m[1]) + ")");
    } else if (kinds.count("UPG") && std::regex_match(t, m, upg)) {
      out.push_back("UPG(" + std::string(m[1]) + ")");
    } else if (kinds.count("BADCODE") && std::regex_match(t, m, badcode)) {
      out.push_back("BADCODE(" + Short(m[1]) + "," + std::string(m[2]) + ")");
    }
  }
  return out;
}

bool CheckerHarness::Logged(const std::string& substring) const {
  return CountLogged(substring) > 0;
}

int CheckerHarness::CountLogged(const std::string& substring) const {
  int n = 0;
  for (const LogLine& line : log_) n += line.text.find(substring) != std::string::npos;
  return n;
}

bool CheckerHarness::LoggedAtLevel(LogLevel level) const {
  for (const LogLine& line : log_) {
    if (line.level == level) return true;
  }
  return false;
}

std::string Join(const std::vector<std::string>& tokens) {
  std::string s;
  for (const auto& t : tokens) s += (s.empty() ? "" : " ") + t;
  return s;
}

std::vector<std::string> Repeat(const std::vector<std::string>& tokens, int times) {
  std::vector<std::string> out;
  for (int i = 0; i < times; ++i) out.insert(out.end(), tokens.begin(), tokens.end());
  return out;
}

std::vector<std::string> Concat(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace upcheck::testing
