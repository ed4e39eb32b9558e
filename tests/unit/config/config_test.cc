// ParseConfig / LoadConfig / DumpConfig on valid input: values, defaults, peers, round trip.
#include "upcheck/config.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "tls_test_cert.h"

namespace upcheck {
namespace {

constexpr std::string_view kFull = R"(# every key
[shm]
name = "hc.test-1"
size = "2m"
persist = true
reload_state = "by_peer"

[daemon]
workers = 3
status_listen = "127.0.0.1:8080"
log_level = "debug"
error_log = "/var/log/upcheck.log"
pid_file = "/run/upcheckd.pid"

[[upstream]]
name = "foo.com"
primary = ["127.0.0.1:12354", "[0:0::1]:12357", { address = "127.0.0.1:12355", down = true }]
backup  = ["127.0.0.1:12356", "unix:/run/app.sock", { address = "10.0.0.2:80" }]
balancer_listen = "[::1]:9000"

[upstream.check]
type = "https"
http_req = "GET /status HTTP/1.0\r\nHost: foo.com\r\n\r\n"
interval = 2000
timeout = 0
fall = 3
rise = 0
valid_statuses = [200, 302]
concurrency = 10
port = 8443
host = "foo.com"
ssl_verify = false
ca_file = "/etc/ssl/certs/ca-certificates.crt"

[[upstream]]
name = "bar.com"
primary = ["10.0.0.1:80"]
)";

Config ParseOk(std::string_view text) {
  Result<Config> config = ParseConfig(text, "upcheck.toml");
  EXPECT_TRUE(config.ok()) << config.error();
  return config.ok() ? std::move(config).value() : Config{};
}

TEST(ConfigTest, ReadsEveryKey) {
  const Config config = ParseOk(kFull);
  EXPECT_EQ(config.path, "upcheck.toml");
  EXPECT_EQ(config.shm.name, "hc.test-1");
  EXPECT_EQ(config.shm.size, 2u * 1024 * 1024);
  EXPECT_TRUE(config.shm.persist);
  EXPECT_EQ(config.shm.reload_state, ReloadState::kByPeer);

  EXPECT_EQ(config.daemon.workers, 3);
  EXPECT_EQ(config.daemon.status_listen, "127.0.0.1:8080");
  EXPECT_EQ(config.daemon.log_level, "debug");
  EXPECT_EQ(config.daemon.error_log, "/var/log/upcheck.log");
  EXPECT_EQ(config.daemon.pid_file, "/run/upcheckd.pid");

  ASSERT_EQ(config.upstreams.size(), 2u);
  const UpstreamConfig& foo = config.upstreams[0];
  EXPECT_EQ(foo.name, "foo.com");
  EXPECT_EQ(foo.line, 15);
  EXPECT_EQ(foo.balancer_listen, "[::1]:9000");
  ASSERT_TRUE(foo.check.has_value());
  const CheckOptions& check = *foo.check;
  EXPECT_EQ(check.type, "https");
  EXPECT_EQ(check.http_req, "GET /status HTTP/1.0\r\nHost: foo.com\r\n\r\n");
  EXPECT_EQ(check.shm, "hc.test-1");
  EXPECT_EQ(check.upstream, "foo.com");
  EXPECT_EQ(check.interval_ms, 2000);
  EXPECT_EQ(check.timeout_ms, 0);
  EXPECT_EQ(check.fall, 3);
  EXPECT_EQ(check.rise, 0);
  EXPECT_EQ(check.valid_statuses, (std::vector<double>{200, 302}));
  EXPECT_EQ(check.concurrency, 10);
  EXPECT_EQ(check.port, 8443);
  EXPECT_EQ(check.host, "foo.com");
  EXPECT_EQ(check.ssl_verify, false);
  EXPECT_EQ(check.ca_file, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_FALSE(check.no_timer);

  const UpstreamConfig& bar = config.upstreams[1];
  EXPECT_EQ(bar.name, "bar.com");
  EXPECT_EQ(bar.line, 35);
  EXPECT_FALSE(bar.check.has_value());
  EXPECT_FALSE(bar.balancer_listen.has_value());
  EXPECT_TRUE(bar.backup.empty());
}

TEST(ConfigTest, PeersAsStringsAndTables) {
  const Config config = ParseOk(kFull);
  const UpstreamConfig& foo = config.upstreams[0];
  ASSERT_EQ(foo.primary.size(), 3u);
  EXPECT_EQ(foo.primary[0].address, "127.0.0.1:12354");
  EXPECT_FALSE(foo.primary[0].down);
  EXPECT_EQ(foo.primary[0].line, 17);
  EXPECT_EQ(foo.primary[1].address, "[::1]:12357");  // canonical, as nginx names it
  EXPECT_FALSE(foo.primary[1].down);
  EXPECT_EQ(foo.primary[2].address, "127.0.0.1:12355");
  EXPECT_TRUE(foo.primary[2].down);
  ASSERT_EQ(foo.backup.size(), 3u);
  EXPECT_EQ(foo.backup[0].address, "127.0.0.1:12356");
  EXPECT_EQ(foo.backup[1].address, "unix:/run/app.sock");
  EXPECT_EQ(foo.backup[2].address, "10.0.0.2:80");
  EXPECT_FALSE(foo.backup[2].down);
  EXPECT_EQ(foo.backup[2].line, 18);
}

TEST(ConfigTest, DefaultsWhenOptionalKeysAreAbsent) {
  const Config config = ParseOk(R"(
[[upstream]]
name = "u"
primary = ["127.0.0.1:80"]
[upstream.check]
type = "http"
http_req = "GET / HTTP/1.0\r\n\r\n"
)");
  EXPECT_EQ(config.shm.name, "healthcheck");
  EXPECT_EQ(config.shm.size, 1024u * 1024);
  EXPECT_FALSE(config.shm.persist);
  // The original's dict survives a HUP as it is (protocol.md Q6).
  EXPECT_EQ(config.shm.reload_state, ReloadState::kPositional);
  EXPECT_EQ(config.daemon.workers, DefaultWorkerCount());
  EXPECT_FALSE(config.daemon.status_listen.has_value());
  EXPECT_EQ(config.daemon.log_level, "warn");
  EXPECT_EQ(config.daemon.error_log, "stderr");
  EXPECT_FALSE(config.daemon.pid_file.has_value());
  ASSERT_EQ(config.upstreams.size(), 1u);
  const CheckOptions& check = *config.upstreams[0].check;
  EXPECT_EQ(check.shm, "healthcheck");
  EXPECT_EQ(check.upstream, "u");
  // Absent options stay absent: the checker owns the defaults (protocol.md §3).
  EXPECT_FALSE(check.interval_ms || check.timeout_ms || check.fall || check.rise ||
               check.concurrency || check.port || check.valid_statuses || check.host ||
               check.ssl_verify || check.ca_file);
}

TEST(ConfigTest, EmptyFileIsAllDefaults) {
  const Config config = ParseOk("");
  EXPECT_EQ(config.shm.name, "healthcheck");
  EXPECT_EQ(config.daemon.workers, DefaultWorkerCount());
  EXPECT_TRUE(config.upstreams.empty());
  EXPECT_EQ(config.warnings.size(), 1u);  // valid, but there is nothing to check
}

TEST(ConfigTest, SizesAsIntegersAndSuffixes) {
  EXPECT_EQ(ParseOk("[shm]\nsize = 65536\n").shm.size, 65536u);
  // The smallest lua_shared_dict that ngx_lua accepts, and the original's 64k.
  EXPECT_EQ(ParseOk("[shm]\nsize = \"8k\"\n").shm.size, kMinShmSize);
  EXPECT_EQ(ParseOk("[shm]\nsize = \"64k\"\n").shm.size, 64u * 1024);
  EXPECT_EQ(ParseOk("[shm]\nsize = \"512k\"\n").shm.size, 512u * 1024);
  EXPECT_EQ(ParseOk("[shm]\nsize = \"1024M\"\n").shm.size, kMaxShmSize);
}

TEST(ConfigTest, KeepsEmptyValidStatuses) {
  // Q10: an empty list means "no status is valid", as in the original.
  const Config config = ParseOk(R"([[upstream]]
name = "u"
primary = ["127.0.0.1:80"]
check = { type = "http", http_req = "x", valid_statuses = [] }
)");
  EXPECT_EQ(config.upstreams[0].check->valid_statuses, std::vector<double>{});
}

TEST(ConfigTest, ListenPortZeroMayRepeat) {
  const Config config = ParseOk(R"([daemon]
status_listen = "127.0.0.1:0"
[[upstream]]
name = "u"
primary = ["127.0.0.1:80"]
balancer_listen = "127.0.0.1:0"
)");
  EXPECT_EQ(config.daemon.status_listen, "127.0.0.1:0");
}

TEST(ConfigTest, DumpRoundTrips) {
  const Config config = ParseOk(kFull);
  const std::string dump = DumpConfig(config);
  const Config again = ParseOk(dump);
  EXPECT_EQ(DumpConfig(again), dump);
  EXPECT_EQ(again.upstreams[0].check->http_req, config.upstreams[0].check->http_req);
  EXPECT_EQ(again.upstreams[0].primary[2].down, true);
}

TEST(ConfigTest, ShutdownTimeoutDefaultsToTenSecondsAndRoundTrips) {
  EXPECT_EQ(ParseOk("").daemon.shutdown_timeout_ms, 10000);
  const Config config = ParseOk("[daemon]\nshutdown_timeout = 0\n");
  EXPECT_EQ(config.daemon.shutdown_timeout_ms, 0);
  const std::string dump = DumpConfig(config);
  EXPECT_NE(dump.find("\nshutdown_timeout = 0\n"), std::string::npos) << dump;
  EXPECT_EQ(ParseOk(dump).daemon.shutdown_timeout_ms, 0);
}

TEST(ConfigTest, DumpIsCanonical) {
  const Config config = ParseOk(R"([[upstream]]
name = "u"
primary = ["127.0.0.1:80", { address = "[::1]:81", down = true }]
check = { type = "http", http_req = "GET / HTTP/1.0\r\n\r\n", fall = 2, valid_statuses = [200] }
)");
  Config fixed = config;
  fixed.daemon.workers = 4;  // not the machine's CPU count
  EXPECT_EQ(DumpConfig(fixed), R"([shm]
name = "healthcheck"
size = "1m"
persist = false
reload_state = "positional"

[daemon]
workers = 4
log_level = "warn"
error_log = "stderr"

[[upstream]]
name = "u"
primary = ["127.0.0.1:80", { address = "[::1]:81", down = true }]
backup = []

[upstream.check]
type = "http"
http_req = "GET / HTTP/1.0\r\n\r\n"
fall = 2
valid_statuses = [200]
)");
}

TEST(ConfigTest, ExampleFileParses) {
  const Result<Config> config = LoadConfig(UPCHECK_SOURCE_ROOT "/upcheck.example.toml");
  ASSERT_TRUE(config.ok()) << config.error();
  ASSERT_EQ(config->upstreams.size(), 2u);
  EXPECT_EQ(config->upstreams[0].name, "foo.com");
  EXPECT_EQ(config->upstreams[0].primary.size(), 3u);
  EXPECT_TRUE(config->upstreams[0].primary[2].down);
  EXPECT_EQ(config->upstreams[0].backup.size(), 2u);
  EXPECT_EQ(config->upstreams[0].check->fall, 3);
  EXPECT_EQ(config->upstreams[1].check->type, "http");
  EXPECT_EQ(config->daemon.status_listen, "127.0.0.1:8080");
  EXPECT_EQ(config->warnings, std::vector<std::string>{});
}

TEST(ConfigTest, LoadConfigReadsAFile) {
  const std::string path = ::testing::TempDir() + "upcheck_config_test.toml";
  {
    std::ofstream out(path);
    out << "[shm]\nname = \"from-file\"\n";
  }
  const Result<Config> config = LoadConfig(path);
  std::remove(path.c_str());
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->shm.name, "from-file");
  EXPECT_EQ(config->path, path);
}

TEST(ConfigTest, LoadConfigNamesAMissingFile) {
  const Result<Config> config = LoadConfig("/nonexistent/upcheck.toml");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error(),
            "/nonexistent/upcheck.toml: cannot open config file: No such file or directory");
}

TEST(ConfigTest, LoadConfigRefusesADirectory) {
  // A directory opens and reads as an empty file: it must not pass as an empty config.
  const std::string dir = ::testing::TempDir();
  const Result<Config> config = LoadConfig(dir);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error(), dir + ": cannot open config file: Is a directory");
}

TEST(ConfigTest, LoadConfigRefusesAFifo) {
  const std::string path =
      ::testing::TempDir() + "upcheck_config_test." + std::to_string(getpid()) + ".fifo";
  std::remove(path.c_str());
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  std::future<Result<Config>> load =
      std::async(std::launch::async, [&] { return LoadConfig(path); });
  if (load.wait_for(std::chrono::seconds(10)) == std::future_status::timeout) {
    // Blocked opening it for a writer: one that closes at once lets the read end (empty).
    ADD_FAILURE() << "LoadConfig blocked on a FIFO";
    const int fd = open(path.c_str(), O_WRONLY);
    if (fd >= 0) close(fd);
  }
  const Result<Config> config = load.get();
  std::remove(path.c_str());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error(), path + ": cannot open config file: not a regular file");
}

TEST(ConfigTest, AcceptsAReadableCaFile) {
  Result<std::unique_ptr<testing::TlsTestCert>> cert = testing::TlsTestCert::Generate();
  ASSERT_TRUE(cert.ok()) << cert.error();
  const Config config = ParseOk(R"([[upstream]]
name = "u"
primary = ["127.0.0.1:443"]
[upstream.check]
type = "https"
http_req = "GET / HTTP/1.0\r\n\r\n"
host = "localhost"
ca_file = ")" + (*cert)->cert_file() +
                                "\"\n");
  EXPECT_EQ(config.upstreams[0].check->ca_file, (*cert)->cert_file());
  EXPECT_EQ(config.warnings, std::vector<std::string>{});
}

TEST(ConfigTest, DefaultWorkerCountIsInRange) {
  EXPECT_GE(DefaultWorkerCount(), 1);
  EXPECT_LE(DefaultWorkerCount(), kMaxWorkers);
}

}  // namespace
}  // namespace upcheck
