// ParseConfig on bad input: every error names file:line:col, the key path, what was wrong
// and what is allowed.
#include <gtest/gtest.h>

#include "upcheck/config.h"

namespace upcheck {
namespace {

std::string ErrorOf(std::string_view text) {
  const Result<Config> config = ParseConfig(text, "upcheck.toml");
  if (config.ok()) return "(no error)";
  return config.error();
}

// A valid upstream to append after a [daemon] or [shm] under test.
constexpr std::string_view kUpstream = R"(
[[upstream]]
name = "u"
primary = ["127.0.0.1:80"]
)";

TEST(ConfigErrorsTest, TomlSyntax) {
  EXPECT_EQ(ErrorOf("[shm]\nname = \n"),
            "upcheck.toml:2:8: invalid TOML: Error while parsing key-value pair: expected "
            "value, saw '\\n'");
  EXPECT_EQ(ErrorOf("[shm]\nname = \"a\"\nname = \"b\"\n"),
            "upcheck.toml:3:8: invalid TOML: Error while parsing key-value pair: cannot "
            "redefine existing string 'name'");
}

TEST(ConfigErrorsTest, TomlNumbersAndEncoding) {
  EXPECT_EQ(ErrorOf("[daemon]\nworkers = 99999999999999999999\n"),
            "upcheck.toml:2:31: invalid TOML: Error while parsing decimal integer: "
            "'99999999999999999999' is not representable in 64 bits");
  EXPECT_EQ(ErrorOf("\xff = 1\n"),
            "upcheck.toml:1:1: invalid TOML: Encountered invalid utf-8 sequence");
}

TEST(ConfigErrorsTest, WrongType) {
  EXPECT_EQ(ErrorOf(R"([[upstream]]
name = "u"
primary = ["127.0.0.1:80"]
[upstream.check]
type = "http"
http_req = "x"
fall = "3"
)"),
            "upcheck.toml:7:8: upstream[0].check.fall: expected an integer, got string \"3\"");
  EXPECT_EQ(ErrorOf("[shm]\npersist = \"yes\"\n"),
            "upcheck.toml:2:11: shm.persist: expected a boolean (true or false), got string "
            "\"yes\"");
  EXPECT_EQ(ErrorOf("[daemon]\nworkers = 2.5\n"),
            "upcheck.toml:2:11: daemon.workers: expected an integer, got float 2.5");
  EXPECT_EQ(ErrorOf("[daemon]\nlog_level = 1\n"),
            "upcheck.toml:2:13: daemon.log_level: expected a string, got integer 1");
  EXPECT_EQ(ErrorOf("shm = 1\n"), "upcheck.toml:1:7: shm: expected a table, got integer 1");
  EXPECT_EQ(ErrorOf("[upstream]\nname = \"u\"\n"),
            "upcheck.toml:1:1: upstream: expected an array of tables ([[upstream]]), got a table");
  EXPECT_EQ(ErrorOf("upstream = [1]\n"),
            "upcheck.toml:1:13: upstream[0]: expected a table ([[upstream]]), got integer 1");
  EXPECT_EQ(ErrorOf("[[upstream]]\nname = \"u\"\nprimary = \"127.0.0.1:80\"\n"),
            "upcheck.toml:3:11: upstream[0].primary: expected an array, got string "
            "\"127.0.0.1:80\"");
}

TEST(ConfigErrorsTest, UnknownKeys) {
  EXPECT_EQ(ErrorOf(R"([[upstream]]
name = "u"
primary = ["127.0.0.1:80"]
[upstream.check]
type = "http"
http_req = "x"
intervall = 3
)"),
            "upcheck.toml:7:1: upstream[0].check: unknown key \"intervall\" (did you mean "
            "\"interval\"?)");
  EXPECT_EQ(ErrorOf("[daemon]\nthreads = 4\n"),
            "upcheck.toml:2:1: daemon: unknown key \"threads\" (allowed: workers, status_listen, "
            "log_level, error_log, pid_file, shutdown_timeout, on_event, on_event_timeout)");
  EXPECT_EQ(ErrorOf("[shmem]\nname = \"x\"\n"),
            "upcheck.toml:1:2: unknown key \"shmem\" (did you mean \"shm\"?)");
  // The derived keys and the test hook are not config keys.
  EXPECT_EQ(ErrorOf(R"([[upstream]]
name = "u"
primary = ["127.0.0.1:80"]
check = { type = "http", http_req = "x", no_timer = true }
)"),
            "upcheck.toml:4:42: upstream[0].check: unknown key \"no_timer\" (allowed: type, "
            "http_req, interval, timeout, fall, rise, valid_statuses, concurrency, port, host, "
            "ssl_verify, ca_file, tls_cert, tls_key, alpn, tls_min_version, request, "
            "expect_status, expect_header, expect_body, body_max, fastinter, downinter, "
            "jitter)");
  EXPECT_EQ(ErrorOf(R"([[upstream]]
name = "u"
primary = [{ address = "127.0.0.1:80", dwon = true }]
)"),
            "upcheck.toml:3:40: upstream[0].primary[0]: unknown key \"dwon\" (did you mean "
            "\"down\"?)");
}

TEST(ConfigErrorsTest, UnknownKeyIsNotAlsoReportedMissing) {
  EXPECT_EQ(ErrorOf(R"([[upstream]]
name = "u"
primary = ["127.0.0.1:80"]
check.tpye = "http"
check.http_req = "x"
)"),
            "upcheck.toml:4:7: upstream[0].check: unknown key \"tpye\" (did you mean \"type\"?)");
  EXPECT_EQ(ErrorOf(R"([[upstream]]
name = "u"
primary = ["127.0.0.1:80"]

  [upstream.chek]
  type = "http"
)"),
            "upcheck.toml:5:13: upstream[0]: unknown key \"chek\" (did you mean \"check\"?)");
}

TEST(ConfigErrorsTest, Shm) {
  EXPECT_EQ(ErrorOf("[shm]\nsize = \"12q\"\n"),
            "upcheck.toml:2:8: shm.size: bad size \"12q\" (bytes, or a number with k or m "
            "suffix)");
  EXPECT_EQ(ErrorOf("[shm]\nsize = \"4k\"\n"),
            "upcheck.toml:2:8: shm.size: size must be between 8k and 1024m, got \"4k\"");
  EXPECT_EQ(ErrorOf("[shm]\nsize = 2147483648\n"),
            "upcheck.toml:2:8: shm.size: size must be between 8k and 1024m, got 2147483648");
  EXPECT_EQ(ErrorOf("[shm]\nsize = -1\n"),
            "upcheck.toml:2:8: shm.size: bad size -1 (bytes, or a number with k or m suffix)");
  EXPECT_EQ(ErrorOf("[shm]\nsize = true\n"),
            "upcheck.toml:2:8: shm.size: expected a size (bytes, or a string such as \"512k\" or "
            "\"1m\"), got boolean true");
  EXPECT_EQ(ErrorOf("[shm]\nname = \"a/b\"\n"),
            "upcheck.toml:2:8: shm.name: bad name \"a/b\" (1 to 64 characters from A-Z a-z 0-9 _ "
            ". -)");
  EXPECT_EQ(ErrorOf("[shm]\nsize = 1.5\n"),
            "upcheck.toml:2:8: shm.size: expected a size (bytes, or a string such as \"512k\" or "
            "\"1m\"), got float 1.5");
  EXPECT_EQ(ErrorOf("[shm]\nsize = 8191\n"),
            "upcheck.toml:2:8: shm.size: size must be between 8k and 1024m, got 8191");
  EXPECT_EQ(ErrorOf("[shm]\nreload_state = \"by_name\"\n"),
            "upcheck.toml:2:16: shm.reload_state: bad reload_state \"by_name\" (positional or "
            "by_peer)");
  EXPECT_EQ(ErrorOf("[shm]\nreload_state = true\n"),
            "upcheck.toml:2:16: shm.reload_state: expected a string, got boolean true");
  EXPECT_EQ(ErrorOf("[shm]\nname = \"\"\n"),
            "upcheck.toml:2:8: shm.name: bad name \"\" (1 to 64 characters from A-Z a-z 0-9 _ . "
            "-)");
}

TEST(ConfigErrorsTest, Daemon) {
  EXPECT_EQ(ErrorOf("[daemon]\nworkers = 0\n"),
            "upcheck.toml:2:11: daemon.workers: workers must be >= 1, got 0");
  EXPECT_EQ(ErrorOf("[daemon]\nworkers = 1025\n"),
            "upcheck.toml:2:11: daemon.workers: workers must be <= 1024, got 1025");
  EXPECT_EQ(ErrorOf("[daemon]\nlog_level = \"verbose\"\n"),
            "upcheck.toml:2:13: daemon.log_level: bad log level \"verbose\" (debug, info, notice, "
            "warn or error)");
  EXPECT_EQ(ErrorOf("[daemon]\nstatus_listen = \"localhost:8080\"\n"),
            "upcheck.toml:2:17: daemon.status_listen: bad listen address \"localhost:8080\" "
            "(IPv4:port, [IPv6]:port or a port alone for 127.0.0.1, e.g. \"127.0.0.1:8080\")");
  EXPECT_EQ(ErrorOf("[daemon]\nerror_log = \"\"\n"),
            "upcheck.toml:2:13: daemon.error_log: must not be empty (\"stderr\" or a file path)");
  EXPECT_EQ(ErrorOf("[daemon]\npid_file = \"\"\n"),
            "upcheck.toml:2:12: daemon.pid_file: must not be empty (a file path; omit the key "
            "for no pid file)");
  EXPECT_EQ(ErrorOf("[daemon]\nshutdown_timeout = -1\n"),
            "upcheck.toml:2:20: daemon.shutdown_timeout: shutdown_timeout must be >= 0, got -1");
  EXPECT_EQ(ErrorOf("[daemon]\nshutdown_timeout = 86400001\n"),
            "upcheck.toml:2:20: daemon.shutdown_timeout: shutdown_timeout must be <= 86400000, "
            "got 86400001");
}

TEST(ConfigErrorsTest, ListenAddressUsedTwice) {
  EXPECT_EQ(ErrorOf(R"([daemon]
status_listen = "127.0.0.1:8080"
[[upstream]]
name = "u"
primary = ["127.0.0.1:80"]
balancer_listen = "127.0.0.1:8080"
)"),
            "upcheck.toml:6:19: upstream[0].balancer_listen: 127.0.0.1:8080 is already used by "
            "daemon.status_listen");
}

TEST(ConfigErrorsTest, Upstream) {
  EXPECT_EQ(ErrorOf("[[upstream]]\nprimary = [\"127.0.0.1:80\"]\n"),
            "upcheck.toml:1:1: upstream[0]: missing required key \"name\"");
  EXPECT_EQ(ErrorOf("[[upstream]]\nname = \"u\"\nprimary = []\n"),
            "upcheck.toml:3:11: upstream[0].primary: no primary peers (nginx refuses an upstream "
            "without servers: \"no servers are inside upstream\"); list at least one in "
            "\"primary\"");
  EXPECT_EQ(ErrorOf("[[upstream]]\nname = \"a b\"\nprimary = [\"127.0.0.1:80\"]\n"),
            "upcheck.toml:2:8: upstream[0].name: bad upstream name \"a b\" (1 to 255 printable "
            "ASCII characters, without spaces, quotes or backslashes)");
  EXPECT_EQ(ErrorOf(R"([[upstream]]
name = "u"
primary = ["127.0.0.1:80"]

[[upstream]]
name = "u"
primary = ["127.0.0.1:81"]
)"),
            "upcheck.toml:6:8: upstream[1].name: duplicate upstream name \"u\" (first defined at "
            "line 1)");
}

TEST(ConfigErrorsTest, Peers) {
  EXPECT_EQ(ErrorOf(R"([[upstream]]
name = "u"
primary = ["127.0.0.1:80", "nope", 5, { down = true }]
backup = [{ address = "unix:rel", down = "yes" }]
)"),
            "upcheck.toml:3:28: upstream[0].primary[1]: bad peer address \"nope\" (expected "
            "IPv4:port, [IPv6]:port or unix:/path)\n"
            "upcheck.toml:3:36: upstream[0].primary[2]: expected a peer address or a table { "
            "address = \"...\", down = true }, got integer 5\n"
            "upcheck.toml:3:39: upstream[0].primary[3]: missing required key \"address\"\n"
            "upcheck.toml:4:23: upstream[0].backup[0].address: bad peer address \"unix:rel\" "
            "(unix: needs an absolute path, e.g. \"unix:/run/app.sock\")\n"
            "upcheck.toml:4:42: upstream[0].backup[0].down: expected a boolean (true or false), "
            "got string \"yes\"");
}

std::string CheckErrorOf(std::string_view check_lines) {
  std::string text = "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:80\"]\n[upstream.check]\n";
  text += check_lines;
  return ErrorOf(text);
}

// spawn_checker()'s strings, byte for byte after the position and key, in its order: only
// the first failure of a check table is reported (protocol.md §3).
TEST(ConfigErrorsTest, CheckTableFailsAsSpawnCheckerDoes) {
  EXPECT_EQ(CheckErrorOf("interval = 1\n"),
            "upcheck.toml:4:1: upstream[0].check: \"type\" option required");
  EXPECT_EQ(CheckErrorOf("http_req = \"x\"\n"),
            "upcheck.toml:4:1: upstream[0].check: \"type\" option required");
  EXPECT_EQ(CheckErrorOf("type = \"udp\"\nhttp_req = \"x\"\n"),
            "upcheck.toml:5:8: upstream[0].check.type: only \"http\" and \"https\" type are "
            "supported right now");
  // Any other value is row 2 too: "" and 5 are not nil in Lua.
  EXPECT_EQ(CheckErrorOf("type = \"\"\n"),
            "upcheck.toml:5:8: upstream[0].check.type: only \"http\" and \"https\" type are "
            "supported right now");
  EXPECT_EQ(CheckErrorOf("type = 5\n"),
            "upcheck.toml:5:8: upstream[0].check.type: only \"http\" and \"https\" type are "
            "supported right now");
  EXPECT_EQ(CheckErrorOf("type = \"HTTP\"\ntimeout = -1\n"),
            "upcheck.toml:5:8: upstream[0].check.type: only \"http\" and \"https\" type are "
            "supported right now");
  EXPECT_EQ(CheckErrorOf("type = \"https\"\n"),
            "upcheck.toml:4:1: upstream[0].check: \"http_req\" option required");
  EXPECT_EQ(CheckErrorOf("type = \"http\"\ntimeout = -1\n"),
            "upcheck.toml:4:1: upstream[0].check: \"http_req\" option required");
  // The Q11 fix, with Checker::Spawn's string.
  EXPECT_EQ(CheckErrorOf("type = \"http\"\nhttp_req = \"x\"\ntimeout = -1\n"),
            "upcheck.toml:7:11: upstream[0].check.timeout: \"timeout\" option must be >= 0");
  // The upstream is the enclosing one: without a name, the checker has none either.
  EXPECT_EQ(ErrorOf("[[upstream]]\nprimary = [\"127.0.0.1:80\"]\n"
                    "check = { type = \"http\", http_req = \"x\" }\n"),
            "upcheck.toml:1:1: upstream[0]: missing required key \"name\"\n"
            "upcheck.toml:3:9: upstream[0].check: no upstream specified");
  // A TOML type error of another key is reported beside the first failure.
  EXPECT_EQ(CheckErrorOf("fall = \"3\"\n"),
            "upcheck.toml:4:1: upstream[0].check: \"type\" option required\n"
            "upcheck.toml:5:8: upstream[0].check.fall: expected an integer, got string \"3\"");
  // One first failure per check table.
  EXPECT_EQ(ErrorOf("[[upstream]]\nname = \"a\"\nprimary = [\"127.0.0.1:80\"]\n"
                    "check = { http_req = \"x\" }\n"
                    "[[upstream]]\nname = \"b\"\nprimary = [\"127.0.0.1:80\"]\n"
                    "check = { type = \"http\" }\n"),
            "upcheck.toml:4:9: upstream[0].check: \"type\" option required\n"
            "upcheck.toml:8:9: upstream[1].check: \"http_req\" option required");
}

// The https trust store is loaded as every worker's prober will load it, so a config that
// passes does not make the workers fail at every start.
TEST(ConfigErrorsTest, CaFileIsLoadedLikeTheWorkersDo) {
  const std::string head = "type = \"https\"\nhttp_req = \"x\"\nhost = \"h\"\n";
  const std::string missing = CheckErrorOf(head + "ca_file = \"/nonexistent/ca.pem\"\n");
  const std::string prefix =
      "upcheck.toml:8:11: upstream[0].check.ca_file: failed to load ca_file "
      "\"/nonexistent/ca.pem\": ";
  EXPECT_EQ(missing.substr(0, prefix.size()), prefix) << missing;
  EXPECT_NE(missing.find("No such file or directory"), std::string::npos) << missing;
  EXPECT_EQ(CheckErrorOf(head + "ca_file = \"/\"\n"),
            "upcheck.toml:8:11: upstream[0].check.ca_file: failed to load ca_file \"/\": is a "
            "directory");
  EXPECT_EQ(CheckErrorOf(head + "ca_file = \"/dev/null\"\n"),
            "upcheck.toml:8:11: upstream[0].check.ca_file: failed to load ca_file "
            "\"/dev/null\": not a regular file");
  // Not loaded where the workers do not load it either.
  EXPECT_EQ(CheckErrorOf(head + "ca_file = \"/nonexistent/ca.pem\"\nssl_verify = false\n"),
            "(no error)");
  EXPECT_EQ(CheckErrorOf("type = \"http\"\nhttp_req = \"x\"\nca_file = \"/nonexistent/ca.pem\"\n"),
            "(no error)");
}

TEST(ConfigErrorsTest, CheckNumbersKeepTheOriginalsMeaning) {
  const std::string head = "type = \"http\"\nhttp_req = \"x\"\n";
  // None of these is refused (protocol.md Q11): interval < 2 runs every 2 ms, fall and rise
  // <= 0 act at the first result, concurrency <= 1 is sequential, timeout 0 is 60 s.
  EXPECT_EQ(CheckErrorOf(head + "interval = -5\nfall = -1\nrise = -1\nconcurrency = -2\n"),
            "(no error)");
  EXPECT_EQ(CheckErrorOf(head + "interval = 0\ntimeout = 0\nfall = 0\nrise = 0\nconcurrency = 0\n"),
            "(no error)");
  EXPECT_EQ(CheckErrorOf(head + "fall = -9223372036854775808\nrise = 9223372036854775807\n"
                                "concurrency = 9223372036854775807\n"),
            "(no error)");
  // Times stop where their deadlines would overflow.
  EXPECT_EQ(CheckErrorOf(head + "timeout = 1000000000000\ninterval = 1000000000000\n"),
            "(no error)");
  EXPECT_EQ(CheckErrorOf(head + "timeout = 1000000000001\n"),
            "upcheck.toml:7:11: upstream[0].check.timeout: timeout must be <= 1000000000000, got "
            "1000000000001");
  EXPECT_EQ(CheckErrorOf(head + "interval = 1000000000001\n"),
            "upcheck.toml:7:12: upstream[0].check.interval: interval must be <= 1000000000000, "
            "got 1000000000001");
  EXPECT_EQ(CheckErrorOf(head + "port = 0\n"),
            "upcheck.toml:7:8: upstream[0].check.port: port must be >= 1, got 0");
  EXPECT_EQ(CheckErrorOf(head + "port = 65536\n"),
            "upcheck.toml:7:8: upstream[0].check.port: port must be <= 65535, got 65536");
  EXPECT_EQ(CheckErrorOf(head + "valid_statuses = [200, 99, \"302\", 1000]\n"),
            "upcheck.toml:7:24: upstream[0].check.valid_statuses[1]: status must be >= 100, got "
            "99\n"
            "upcheck.toml:7:28: upstream[0].check.valid_statuses[2]: expected an integer, got "
            "string \"302\"\n"
            "upcheck.toml:7:35: upstream[0].check.valid_statuses[3]: status must be <= 999, got "
            "1000");
  EXPECT_EQ(CheckErrorOf(head + "host = \"\"\n"),
            "upcheck.toml:7:8: upstream[0].check.host: must not be empty (a host name)");
}

TEST(ConfigErrorsTest, ReportsEveryErrorInFileOrder) {
  EXPECT_EQ(ErrorOf(R"([daemon]
workers = 0
log_level = "loud"
[shm]
size = "1k"
)"),
            "upcheck.toml:2:11: daemon.workers: workers must be >= 1, got 0\n"
            "upcheck.toml:3:13: daemon.log_level: bad log level \"loud\" (debug, info, notice, "
            "warn or error)\n"
            "upcheck.toml:5:8: shm.size: size must be between 8k and 1024m, got \"1k\"");
}

TEST(ConfigErrorsTest, QuotesControlCharactersAndCutsLongValues) {
  EXPECT_EQ(ErrorOf("[daemon]\nlog_level = \"a\\r\\nb\\u0001\"\n"),
            "upcheck.toml:2:13: daemon.log_level: bad log level \"a\\r\\nb\\u0001\" (debug, info, "
            "notice, warn or error)");
  EXPECT_EQ(ErrorOf("[daemon]\nlog_level = \"" + std::string(100, 'x') + "\"\n"),
            "upcheck.toml:2:13: daemon.log_level: bad log level \"" + std::string(64, 'x') +
                "\"... (debug, info, notice, warn or error)");
}

TEST(ConfigErrorsTest, ValidUpstreamHelperIsValid) { EXPECT_EQ(ErrorOf(kUpstream), "(no error)"); }

// The scheduling keys (DESIGN §10) are new, so nonsense is refused rather than clamped.
TEST(ConfigErrorsTest, SchedulingKeys) {
  auto with = [](std::string_view line) {
    return ErrorOf(std::string(R"([[upstream]]
name = "u"
primary = ["127.0.0.1:80"]
[upstream.check]
type = "http"
http_req = "x"
)") + std::string(line) +
                   "\n");
  };
  EXPECT_EQ(with("fastinter = 0"),
            "upcheck.toml:7:13: upstream[0].check.fastinter: fastinter must be >= 1, got 0");
  EXPECT_EQ(with("downinter = -100"),
            "upcheck.toml:7:13: upstream[0].check.downinter: downinter must be >= 1, got -100");
  EXPECT_EQ(with("jitter = 150"),
            "upcheck.toml:7:10: upstream[0].check.jitter: jitter must be <= 100, got 150");
  EXPECT_EQ(with("jitter = -1"),
            "upcheck.toml:7:10: upstream[0].check.jitter: jitter must be >= 0, got -1");
  EXPECT_EQ(with("jitter = 100"), "(no error)");
}

}  // namespace
}  // namespace upcheck
