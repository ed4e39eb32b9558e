// upcheckd's command line and start-up failures, with the real binary ($UPCHECKD): what an
// operator sees on stdout and stderr, and the exit status.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "daemon_process.h"
#include "loopback_http_server.h"
#include "subprocess.h"
#include "test_names.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

class DaemonCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
    dir_ = MakeTempDir();
    shm_ = UniqueSegmentName("cli");
  }
  void TearDown() override {
    (void)Segment::Remove(shm_);
    RemoveTree(dir_);
  }
  // Writes `toml` as <dir>/<file> and runs upcheckd -c on it with `args`.
  ProcessResult Run(const std::string& file, const std::string& toml,
                    std::vector<std::string> args = {}) {
    std::string path = dir_ + "/" + file;
    WriteFile(path, toml);
    std::vector<std::string> argv = {UpcheckdPath(), "-c", path};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = RunProcess(argv);
    EXPECT_FALSE(r.timed_out);
    return r;
  }
  TestConfig Minimal() {
    TestConfig c;
    c.shm_name = shm_;
    c.workers = 1;
    c.upstreams = {{.name = "u", .primary = {"127.0.0.1:1"}, .check = false}};
    return c;
  }

  std::string dir_;
  std::string shm_;
};

TEST_F(DaemonCliTest, HelpAndVersionExitZero) {
  ProcessResult help = RunProcess({UpcheckdPath(), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--demo"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("-c,--config"), std::string::npos) << help.out;
  ProcessResult version = RunProcess({UpcheckdPath(), "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("upcheckd ", 0), 0u) << version.out;
}

TEST_F(DaemonCliTest, NoConfigIsAnError) {
  ProcessResult r = RunProcess({UpcheckdPath()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "upcheckd: -c FILE is required (or --demo); see --help\n");
  ProcessResult bad = RunProcess({UpcheckdPath(), "--no-such-flag"});
  EXPECT_EQ(bad.exit_code, 1);
}

TEST_F(DaemonCliTest, TestModeAcceptsAGoodConfig) {
  ProcessResult r = Run("good.toml", ConfigToml(Minimal()), {"--test"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "configuration ok\n");
  EXPECT_EQ(r.err, "");
  // --test touches nothing: no segment.
  EXPECT_FALSE(Segment::Open(shm_).ok());
}

struct BadConfig {
  const char* what;
  const char* toml;
  const char* message;  // after "<path>:"
};

TEST_F(DaemonCliTest, EachErrorClassNamesFileLineAndKey) {
  const BadConfig cases[] = {
      {"syntax", "[shm]\nname = \"x\n", ":2:"},
      {"unknown key", "[daemon]\nworkerz = 2\n", ":2:1: daemon: unknown key \"workerz\""},
      {"wrong type", "[daemon]\nworkers = \"two\"\n", ":2:11: daemon.workers: "},
      {"out of range", "[daemon]\nworkers = 0\n", ":2:11: daemon.workers: "},
  };
  for (const BadConfig& c : cases) {
    for (bool test_mode : {true, false}) {
      std::string file = std::string("bad-") + (test_mode ? "t" : "r") + ".toml";
      std::vector<std::string> args;
      if (test_mode) args.push_back("--test");
      ProcessResult r = Run(file, c.toml, args);
      EXPECT_EQ(r.exit_code, 1) << c.what;
      EXPECT_EQ(r.out, "") << c.what;
      std::string prefix = dir_ + "/" + file + c.message;
      EXPECT_EQ(r.err.rfind(prefix, 0), 0u) << c.what << ": " << r.err;
    }
  }
  EXPECT_FALSE(Segment::Open(shm_).ok());
}

// The original validates no numeric option (protocol.md Q11); --test names the surprising
// ones on stderr and still passes the file.
TEST_F(DaemonCliTest, TestModeAcceptsTheOriginalsNumbersWithWarnings) {
  const std::string toml =
      "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:1\"]\n"
      "[upstream.check]\ntype = \"http\"\n"
      "http_req = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n"
      "concurrency = -3\nfall = 0\nrise = -1\ninterval = 0\n";
  ProcessResult r = Run("numbers.toml", toml, {"--test"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "configuration ok\n");
  const std::string at = dir_ + "/numbers.toml:";
  EXPECT_EQ(r.err, at +
                       "7:15: warning: upstream[0].check.concurrency: concurrency -3 probes one "
                       "peer at a time, as concurrency = 1 does\n" +
                       at +
                       "8:8: warning: upstream[0].check.fall: fall 0 turns a peer down at "
                       "its first failure, as fall = 1 does\n" +
                       at +
                       "9:8: warning: upstream[0].check.rise: rise -1 turns a peer up at its "
                       "first success, as rise = 1 does\n" +
                       at +
                       "10:12: warning: upstream[0].check.interval: interval 0 is below the "
                       "minimum: checks run every 2 ms\n");
}

// A bad check table fails with spawn_checker()'s own string (protocol.md §3), the first
// failure in its order only, at start as with --test.
TEST_F(DaemonCliTest, CheckErrorsAreTheOriginalsStrings) {
  const std::string upstream = "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:1\"]\n";
  const BadConfig cases[] = {
      {"no type", "check = { http_req = \"x\" }",
       ":4:9: upstream[0].check: \"type\" option required\n"},
      {"no type, no http_req", "check = { interval = 1 }",
       ":4:9: upstream[0].check: \"type\" option required\n"},
      {"unknown type", "check = { type = \"udp\" }",
       ":4:18: upstream[0].check.type: only \"http\" and \"https\" type are supported right "
       "now\n"},
      {"no http_req", "check = { type = \"http\", timeout = -1 }",
       ":4:9: upstream[0].check: \"http_req\" option required\n"},
      {"negative timeout", "check = { type = \"http\", http_req = \"x\", timeout = -1 }",
       ":4:52: upstream[0].check.timeout: \"timeout\" option must be >= 0\n"},
  };
  for (const BadConfig& c : cases) {
    for (bool test_mode : {true, false}) {
      const std::string file = std::string("check-") + (test_mode ? "t" : "r") + ".toml";
      std::vector<std::string> args;
      if (test_mode) args.push_back("--test");
      ProcessResult r = Run(file, upstream + c.toml + "\n", args);
      EXPECT_EQ(r.exit_code, 1) << c.what;
      EXPECT_EQ(r.out, "") << c.what;
      EXPECT_EQ(r.err, dir_ + "/" + file + c.message) << c.what;
    }
  }
  ProcessResult r = Run("no-name.toml",
                        "[[upstream]]\nprimary = [\"127.0.0.1:1\"]\n"
                        "check = { type = \"http\", http_req = \"x\" }\n",
                        {"--test"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, dir_ + "/no-name.toml:1:1: upstream[0]: missing required key \"name\"\n" + dir_ +
                       "/no-name.toml:3:9: upstream[0].check: no upstream specified\n");
  EXPECT_FALSE(Segment::Open(shm_).ok());
}

// A directory reads as an empty file: it would pass as a config with nothing to check. (The
// daemon's start takes the same LoadConfig; not run here, as a regression would start a
// daemon on the default segment name.)
// Scheduling, passive checks and the balancer's keys: every bad value in one file, each
// named by line and key, and nothing started.
TEST_F(DaemonCliTest, TestModeNamesEveryBadSchedulingAndBalancingValue) {
  const std::string toml =
      "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:1\"]\n"
      "balancer_listen = \"127.0.0.1:0\"\nslow_start = \"3x\"\npanic_threshold = 101\n"
      "[upstream.check]\ntype = \"http\"\nhttp_req = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n"
      "fastinter = 0\ndowninter = -5\njitter = 150\n"
      "[upstream.passive]\nfall = 0\n";
  ProcessResult r = Run("sched.toml", toml, {"--test"});
  EXPECT_EQ(r.exit_code, 1);
  const std::string file = dir_ + "/sched.toml:";
  for (const std::string& want :
       {file + "5:14: upstream[0].slow_start: bad duration \"3x\"",
        file + "6:19: upstream[0].panic_threshold: ", file + "10:13: upstream[0].check.fastinter: ",
        file + "11:13: upstream[0].check.downinter: ",
        file + "12:10: upstream[0].check.jitter: jitter must be <= 100, got 150",
        file + "14:8: upstream[0].passive.fall: "}) {
    EXPECT_NE(r.err.find(want), std::string::npos) << want << "\n" << r.err;
  }
  EXPECT_FALSE(Segment::Open(shm_).ok());
}

TEST_F(DaemonCliTest, DirectoryAsConfigIsRefused) {
  ProcessResult r = RunProcess({UpcheckdPath(), "-c", dir_, "--test"});
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, dir_ + ": cannot open config file: Is a directory\n");
}

// A trust store the workers could not load fails the config, not every worker at every
// start.
TEST_F(DaemonCliTest, MissingCaFileIsRefused) {
  TestConfig c = Minimal();
  const std::string ca = dir_ + "/missing-ca.pem";
  const std::string toml = ConfigToml(c) +
                           "[upstream.check]\ntype = \"https\"\n"
                           "http_req = \"GET / HTTP/1.0\\r\\n\\r\\n\"\nhost = \"localhost\"\n"
                           "ca_file = \"" +
                           ca + "\"\n";
  for (bool test_mode : {true, false}) {
    const std::string file = std::string("ca-") + (test_mode ? "t" : "r") + ".toml";
    std::vector<std::string> args;
    if (test_mode) args.push_back("--test");
    ProcessResult r = Run(file, toml, args);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "");
    // One line: the file, line and column, then the key and the workers' own error text.
    EXPECT_EQ(r.err.rfind(dir_ + "/" + file + ":", 0), 0u) << r.err;
    const std::string message =
        ": upstream[0].check.ca_file: failed to load ca_file \"" + ca + "\": ";
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("No such file or directory\n"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_FALSE(Segment::Open(shm_).ok());
}

// Valid, but likely not meant: each is named on stderr, and the file passes.
TEST_F(DaemonCliTest, WarningsDoNotRefuse) {
  struct Case {
    const char* what;
    std::string toml;
    std::string warning;  // after "<path>"
  };
  const std::string upstream = "[[upstream]]\nname = \"u\"\n";
  const Case cases[] = {
      {"empty file", "",
       ": warning: the configuration is empty: no [[upstream]], nothing to check"},
      {"no upstream", "[daemon]\nworkers = 1\n", ": warning: no [[upstream]]: nothing to check"},
      {"duplicate peer", upstream + "primary = [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n",
       ":3:27: warning: upstream[0].primary[1]: duplicate peer 127.0.0.1:1 (also "
       "upstream[0].primary[0]): nginx accepts a repeated server, and it is checked and picked "
       "as two peers"},
      {"request without its empty line",
       upstream + "primary = [\"127.0.0.1:1\"]\n" +
           "check = { type = \"http\", http_req = \"GET / HTTP/1.0\\r\\n\" }\n",
       ":4:37: warning: upstream[0].check.http_req: does not end with an empty line "
       "(\"\\r\\n\\r\\n\"): it is sent as written, and a server may wait for the rest of the "
       "request until the timeout"},
      {"https without host",
       upstream + "primary = [\"127.0.0.1:1\"]\n" +
           "check = { type = \"https\", http_req = \"GET / HTTP/1.0\\r\\n\\r\\n\" }\n",
       ":4:18: warning: upstream[0].check.type: https without \"host\": no SNI is sent, and the "
       "certificate's name is not verified (only its chain)"},
  };
  for (const Case& c : cases) {
    ProcessResult r = Run("warn.toml", c.toml, {"--test"});
    EXPECT_EQ(r.exit_code, 0) << c.what << ": " << r.err;
    EXPECT_EQ(r.out, "configuration ok\n") << c.what;
    EXPECT_EQ(r.err, dir_ + "/warn.toml" + c.warning + "\n") << c.what;
  }
}

TEST_F(DaemonCliTest, ListenPortInUseIsAClearError) {
  LoopbackHttpServer busy;
  ASSERT_TRUE(busy.ok()) << busy.error();
  TestConfig c = Minimal();
  std::string address = "127.0.0.1:" + std::to_string(busy.port());
  c.status_listen = address;
  ProcessResult r = Run("busy.toml", ConfigToml(c));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err,
            "upcheckd: cannot listen on " + address + " (status_listen): address already in use\n");
  // Nothing is left behind.
  Result<std::unique_ptr<Segment>> seg = Segment::Open(shm_);
  ASSERT_FALSE(seg.ok());
  EXPECT_NE(seg.error().find("not found"), std::string::npos) << seg.error();

  c.status_listen = "127.0.0.1:0";
  c.upstreams[0].balancer_listen = address;
  r = Run("busy-balancer.toml", ConfigToml(c));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "upcheckd: cannot listen on " + address +
                       " (upstream u balancer_listen): address already in use\n");
}

TEST_F(DaemonCliTest, SecondDaemonOnTheSameSegmentIsRefused) {
  TestConfig c = Minimal();
  DaemonProcess first(ConfigToml(c));
  ASSERT_GT(first.StatusPort(), 0) << first.err();
  ProcessResult r = Run("second.toml", ConfigToml(c));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "upcheckd: upcheckd already running (pid " + std::to_string(first.pid()) +
                       ") with segment '" + shm_ + "'\n");
  EXPECT_EQ(first.Stop(), 0) << first.err();
}

TEST_F(DaemonCliTest, StaleSegmentOfADeadMasterIsReplaced) {
  pid_t child = fork();
  if (child == 0) {
    auto s = Segment::Create({.name = shm_, .size = 256 * 1024});
    if (s.ok()) (*s)->Publish();
    _exit(s.ok() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(Segment::Open(shm_).ok());  // left behind by a process that is gone
  DaemonProcess daemon(ConfigToml(Minimal()));
  ASSERT_GT(daemon.StatusPort(), 0) << daemon.err();
  Result<std::unique_ptr<Segment>> seg = Segment::Open(shm_);
  ASSERT_TRUE(seg.ok()) << seg.error();
  EXPECT_EQ((*seg)->info().creator_pid, daemon.pid());
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
}

TEST_F(DaemonCliTest, PidFileIsWrittenRefusedWhenLiveReplacedWhenStale) {
  TestConfig c = Minimal();
  c.pid_file = dir_ + "/upcheckd.pid";
  WriteFile(c.pid_file, std::to_string(getpid()) + "\n");  // a live process
  ProcessResult r = Run("pid.toml", ConfigToml(c));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "upcheckd: pid file " + c.pid_file + " names a running process (pid " +
                       std::to_string(getpid()) + ")\n");

  WriteFile(c.pid_file, "999999999\n");  // no such process
  DaemonProcess daemon(ConfigToml(c));
  ASSERT_GT(daemon.StatusPort(), 0) << daemon.err();
  std::string text;
  std::getline(std::ifstream(c.pid_file), text);
  EXPECT_EQ(text, std::to_string(daemon.pid()));
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  EXPECT_FALSE(std::ifstream(c.pid_file).good());
}

}  // namespace
}  // namespace upcheck::testing
