// The event journal end to end: a running upcheckd journals transitions, the first failure
// of a streak, admin changes and worker deaths and respawns; `upcheck-shmctl events`
// ($UPCHECK_SHMCTL) lists them with numbers that have no hole, --follow goes on across a
// reload, and on_event runs a command per event without losing any when it fails or hangs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon_process.h"
#include "loopback_http_server.h"
#include "subprocess.h"
#include "test_names.h"

namespace upcheck::testing {
namespace {

using std::chrono::seconds;

std::string ShmctlPath() {
  const char* path = std::getenv("UPCHECK_SHMCTL");
  return path != nullptr ? path : "";
}

ProcessResult Shmctl(const std::string& shm, std::vector<std::string> args) {
  args.insert(args.begin(), {ShmctlPath(), "-s", shm});
  return RunProcess(args);
}

// Every JSON line of `text` (gaps included).
std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

std::vector<nlohmann::json> Events(const std::string& shm) {
  return JsonLines(Shmctl(shm, {"events", "--json"}).out);
}

bool Has(const std::vector<nlohmann::json>& events, const std::string& kind,
         const std::string& text = "") {
  for (const nlohmann::json& e : events) {
    if (e.value("kind", "") != kind) continue;
    if (text.empty() || e.dump().find(text) != std::string::npos) return true;
  }
  return false;
}

// Numbers one after another, no gap line, no repeat.
::testing::AssertionResult Contiguous(const std::vector<nlohmann::json>& events) {
  if (events.empty()) return ::testing::AssertionFailure() << "no events";
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].contains("gap")) return ::testing::AssertionFailure() << events[i].dump();
    if (i > 0 && events[i]["seq"] != events[i - 1]["seq"].get<uint64_t>() + 1) {
      return ::testing::AssertionFailure()
             << "seq " << events[i - 1]["seq"] << " then " << events[i]["seq"];
    }
  }
  return ::testing::AssertionSuccess();
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `upcheck-shmctl -s SHM events --follow --json`, its stdout going to a file.
class Follower {
 public:
  Follower(const std::string& shm, const std::string& out_path) : path_(out_path) {
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, STDOUT_FILENO);
      execl(ShmctlPath().c_str(), ShmctlPath().c_str(), "-s", shm.c_str(), "events", "--follow",
            "--json", static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Follower() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;
  std::vector<nlohmann::json> Lines() const { return JsonLines(ReadAll(path_)); }

 private:
  std::string path_;
  pid_t pid_ = -1;
};

class DaemonEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
    ASSERT_FALSE(ShmctlPath().empty()) << "set UPCHECK_SHMCTL";
    ASSERT_TRUE(live_.ok());
    config_.shm_name = UniqueSegmentName("events");
    config_.workers = 2;
    config_.upstreams = {
        {.name = "app", .primary = {live_.address(), closed_.address()}, .fall = 2}};
  }
  void Start() {
    daemon_ = std::make_unique<DaemonProcess>(ConfigToml(config_));
    ASSERT_GT(daemon_->StatusPort(), 0) << daemon_->err();
  }

  LoopbackHttpServer live_{Family::kV4, StatusResponse(200)};
  LoopbackClosedPort closed_;
  TestConfig config_;
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(DaemonEventsTest, TransitionsAdminChangesAndWorkerDeathsAreJournaled) {
  Start();
  const std::string shm = config_.shm_name;
  const std::string refused = closed_.address();
  ASSERT_TRUE(Eventually([&] { return Has(Events(shm), "down", refused); })) << daemon_->err();
  std::vector<nlohmann::json> events = Events(shm);
  EXPECT_TRUE(Has(events, "down", "failed to connect to " + refused)) << events.back().dump();
  EXPECT_TRUE(Has(events, "failure", refused));  // fall = 2: the streak's first, then down
  EXPECT_TRUE(Has(events, "worker_spawn"));

  ProcessResult set =
      Shmctl(shm, {"peer", "app", live_.address(), "drain", "--reason", "deploy 7"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  ASSERT_TRUE(Has(Events(shm), "admin", "deploy 7"));

  std::set<int32_t> workers = RunningWorkers(shm);
  ASSERT_FALSE(workers.empty());
  const int32_t victim = *workers.begin();
  kill(victim, SIGKILL);
  const std::string died = "worker process " + std::to_string(victim) + " exited on signal 9";
  ASSERT_TRUE(Eventually([&] { return Has(Events(shm), "worker_exit", died); }));
  // The respawn comes after the death.
  ASSERT_TRUE(Eventually([&] {
    bool dead = false;
    for (const nlohmann::json& e : Events(shm)) {
      if (e.value("kind", "") == "worker_exit" && e.dump().find(died) != std::string::npos) {
        dead = true;
      } else if (dead && e.value("kind", "") == "worker_spawn") {
        return true;
      }
    }
    return false;
  })) << daemon_->err();
  events = Events(shm);
  EXPECT_TRUE(Contiguous(events));
  EXPECT_EQ(events.front()["seq"], 1);

  // The text form says the same, one line per event.
  ProcessResult text = Shmctl(shm, {"events", "--since", "2"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out.rfind("2 ", 0), 0u) << text.out;
  EXPECT_NE(text.out.find(" admin peer " + live_.address() +
                          " is set to drain, upstream: \"app\""
                          ", reason: \"deploy 7\""),
            std::string::npos)
      << text.out;

  HttpAnswer metrics = HttpGet(daemon_->StatusPort(), "/metrics");
  ASSERT_TRUE(metrics.ok);
  EXPECT_NE(metrics.body.find("# TYPE upcheck_events_total counter\n"), std::string::npos);
  EXPECT_NE(metrics.body.find("upcheck_events_total{kind=\"admin\"} 1\n"), std::string::npos)
      << metrics.body;
}

TEST_F(DaemonEventsTest, FollowGoesOnAcrossAReloadWithoutAGapOrARepeat) {
  Start();
  const std::string shm = config_.shm_name;
  Follower follower(shm, daemon_->dir() + "/follow.out");
  ASSERT_TRUE(Eventually([&] { return Has(follower.Lines(), "down"); })) << daemon_->err();

  const size_t mark = daemon_->err().size();
  daemon_->Signal(SIGHUP);
  ASSERT_TRUE(daemon_->WaitForErr("reload done", seconds(10), mark)) << daemon_->err();
  // The new segment, by name: what the follower must find on its own.
  ASSERT_TRUE(Eventually([&] {
    return Shmctl(shm, {"peer", "app", live_.address(), "down", "--reason", "after"}).exit_code ==
           0;
  }));
  ASSERT_TRUE(Eventually([&] { return Has(follower.Lines(), "admin", "after"); }))
      << ReadAll(daemon_->dir() + "/follow.out");
  std::vector<nlohmann::json> lines = follower.Lines();
  EXPECT_TRUE(Has(lines, "reload", "reload done"));
  EXPECT_TRUE(Contiguous(lines));
  // And the new segment's journal holds the old one's events under their numbers.
  std::vector<nlohmann::json> listed = Events(shm);
  ASSERT_FALSE(listed.empty());
  EXPECT_EQ(listed.front(), lines.front());
}

TEST_F(DaemonEventsTest, OnEventGetsEveryEventEvenWhenTheCommandFailsOrHangs) {
  // The command records its stdin, hangs on worker_spawn events and fails on the others.
  const std::string dir = MakeTempDir();
  const std::string log = dir + "/got.jsonl";
  const std::string script = dir + "/on_event.sh";
  WriteFile(script, "#!/bin/sh\ncat >> " + log +
                        "\ncase \"$UPCHECK_EVENT_KIND\" in worker_spawn) exec sleep 60;; "
                        "esac\nexit 3\n");
  chmod(script.c_str(), 0700);
  config_.on_event = script;
  config_.on_event_timeout_ms = 200;
  Start();
  const std::string shm = config_.shm_name;
  ASSERT_TRUE(Eventually([&] { return Has(JsonLines(ReadAll(log)), "down"); }, seconds(30)))
      << daemon_->err();
  std::vector<nlohmann::json> got = JsonLines(ReadAll(log));
  EXPECT_TRUE(Contiguous(got));  // in order, one command each, none skipped
  EXPECT_EQ(got.front()["seq"], 1);
  EXPECT_TRUE(Has(got, "worker_spawn"));
  EXPECT_TRUE(daemon_->WaitForErr("did not finish in 200 ms; killing it"));
  EXPECT_TRUE(daemon_->WaitForErr("exited with code 3"));
  // What the command saw is what the journal holds.
  std::vector<nlohmann::json> journal = Events(shm);
  ASSERT_GE(journal.size(), got.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], journal[i]);
  daemon_->Stop();
  RemoveTree(dir);
}

TEST_F(DaemonEventsTest, BadArgumentsAreRefusedClearly) {
  Start();
  const std::string shm = config_.shm_name;
  ProcessResult r = Shmctl(shm, {"events", "--since", "abc"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--since: \"abc\" is not a sequence number"), std::string::npos) << r.err;
  r = Shmctl(shm, {"events", "--since", "99999999"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--since 99999999: the journal's next event is"), std::string::npos)
      << r.err;
  r = Shmctl(UniqueSegmentName("absent"), {"events"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;

  const std::string bad = daemon_->dir() + "/bad.toml";
  WriteFile(bad, "[daemon]\non_event = \"relative/cmd\"\non_event_timeout = 0\n");
  r = RunProcess({UpcheckdPath(), "--test", "-c", bad});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("daemon.on_event: \"relative/cmd\" is not an absolute path"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("daemon.on_event_timeout"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace upcheck::testing
