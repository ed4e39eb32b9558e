// End-to-end tests of upcheck-shmctl: the real binary (UPCHECK_SHMCTL) run as a subprocess
// against a real segment, checking what an operator sees: stdout, the one-line error on
// stderr, and the exit status.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "shm/segment_header.h"
#include "slow_tool.h"
#include "subprocess.h"
#include "test_names.h"
#include "upcheck/segment.h"

namespace upcheck {
namespace {

using nlohmann::json;
using testing::ProcessResult;

class ShmctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* path = std::getenv("UPCHECK_SHMCTL");
    ASSERT_NE(path, nullptr) << "set UPCHECK_SHMCTL to the upcheck-shmctl binary";
    binary_ = path;
  }
  void TearDown() override { (void)Segment::Remove(name_); }

  // upcheck-shmctl -s <this test's segment> args...
  ProcessResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {binary_, "-s", name_});
    return RunRaw(args);
  }
  ProcessResult RunRaw(const std::vector<std::string>& argv) {
    ProcessResult r = testing::RunProcess(argv);
    EXPECT_FALSE(r.timed_out);
    return r;
  }
  // Runs a command that must succeed and returns its stdout.
  std::string Ok(std::vector<std::string> args) {
    std::string line;
    for (const std::string& a : args) line += a + " ";
    ProcessResult r = Run(std::move(args));
    EXPECT_EQ(r.exit_code, 0) << line << "\nstderr: " << r.err;
    EXPECT_EQ(r.err, "") << line;
    return r.out;
  }
  json OkJson(std::vector<std::string> args) {
    std::string out = Ok(std::move(args));
    json doc = json::parse(out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(doc.is_discarded()) << out;
    return doc;
  }
  void Create(const std::string& size = "1m") { Ok({"create", "--size", size}); }

  // Rewrites one header field in the raw object, as a foreign build or corruption would.
  template <typename F>
  void PokeHeader(F poke) {
    int fd = shm_open(("/" + SegmentObjectName(name_)).c_str(), O_RDWR, 0);
    ASSERT_GE(fd, 0);
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(p, MAP_FAILED);
    poke(static_cast<shm::SegmentHeaderShm*>(p));
    munmap(p, 4096);
    close(fd);
  }

  std::string binary_;
  std::string name_ = testing::UniqueSegmentName("shmctl");
};

// Exit 1, nothing on stdout, exactly one line on stderr carrying the tool's prefix.
::testing::AssertionResult IsOneLineError(const ProcessResult& r, const std::string& needle) {
  const std::string prefix = "upcheck-shmctl: ";
  if (r.exit_code != 1) {
    return ::testing::AssertionFailure() << "exit " << r.exit_code << ", stderr: " << r.err;
  }
  if (!r.out.empty()) return ::testing::AssertionFailure() << "stdout: " << r.out;
  if (r.err.rfind(prefix, 0) != 0 || std::count(r.err.begin(), r.err.end(), '\n') != 1 ||
      r.err.back() != '\n') {
    return ::testing::AssertionFailure() << "not one prefixed line: [" << r.err << "]";
  }
  if (r.err.find(needle) == std::string::npos) {
    return ::testing::AssertionFailure() << "[" << r.err << "] lacks [" << needle << "]";
  }
  return ::testing::AssertionSuccess();
}

// "<digits>.<three digits>": seconds with ms precision, as the tool prints them.
bool IsSecondsMs(std::string_view s) {
  const size_t dot = s.find('.');
  if (dot == std::string_view::npos || dot == 0 || s.size() != dot + 4) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i != dot && (s[i] < '0' || s[i] > '9')) return false;
  }
  return true;
}

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t end; (end = text.find(sep, start)) != std::string::npos; start = end + 1) {
    parts.push_back(text.substr(start, end - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

TEST_F(ShmctlTest, HelpExitsZeroForTheToolAndEveryCommand) {
  ProcessResult top = RunRaw({binary_, "--help"});
  EXPECT_EQ(top.exit_code, 0) << top.err;
  EXPECT_NE(top.out.find("KEY<TAB>VALUE<TAB>TTL"), std::string::npos) << top.out;
  for (const char* cmd :
       {"create", "remove", "info", "keys", "get", "ttl", "set", "add", "incr", "del", "flush"}) {
    ProcessResult r = RunRaw({binary_, cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd << ": " << r.out;
  }
}

TEST_F(ShmctlTest, CreateThenInfo) {
  Create("256k");
  std::string text = Ok({"info"});
  // --size is the dict's capacity, as shm.size; the segment holds more.
  EXPECT_NE(text.find("dict_capacity   262144 bytes (256k)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("layout_version  " + std::to_string(Segment::kLayoutVersion) + "\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("dict_entries    0\n"), std::string::npos) << text;

  json info = OkJson({"info", "--json"});
  EXPECT_EQ(info["name"], name_);
  EXPECT_EQ(info["object"], "upcheck." + name_);
  EXPECT_GT(info["size"].get<size_t>(), 262144u);
  EXPECT_EQ(info["dict"]["size"], 262144);
  EXPECT_EQ(info["dict"]["capacity_bytes"], 262144);
  EXPECT_EQ(info["layout_version"], Segment::kLayoutVersion);
  EXPECT_EQ(info["generation"], 1);
  EXPECT_GT(info["creator_pid"].get<int>(), 0);
  EXPECT_GE(info["age_ms"].get<int64_t>(), 0);
  EXPECT_EQ(info["dict"]["entries"], 0);
  EXPECT_EQ(info["dict"]["free_bytes"], info["dict"]["capacity_bytes"]);

  Ok({"set", "v:foo", "3"});
  info = OkJson({"info", "--json"});
  EXPECT_EQ(info["dict"]["entries"], 1);
  EXPECT_LT(info["dict"]["free_bytes"].get<size_t>(), info["dict"]["capacity_bytes"].get<size_t>());
}

TEST_F(ShmctlTest, CreateRefusesAnExistingSegmentUnlessReplace) {
  Create();
  Ok({"set", "k", "1"});
  EXPECT_TRUE(IsOneLineError(Run({"create"}), "already exists"));
  EXPECT_EQ(Ok({"get", "k"}), "1\n");
  Ok({"create", "--replace", "--size", "128k"});
  EXPECT_TRUE(IsOneLineError(Run({"get", "k"}), "key \"k\" not found"));
  EXPECT_EQ(OkJson({"info", "--json"})["dict"]["capacity_bytes"], 128 * 1024);
}

TEST_F(ShmctlTest, CreateRejectsBadSizes) {
  EXPECT_TRUE(IsOneLineError(Run({"create", "--size", "12q"}), "bad size \"12q\""));
  EXPECT_TRUE(IsOneLineError(Run({"create", "--size", "1000"}),
                             "dict size 1000 is below the minimum of 8192 bytes (8k)"));
  EXPECT_TRUE(IsOneLineError(Run({"info"}), "not found"));  // nothing was created
}

TEST_F(ShmctlTest, RemoveRemovesTheSegment) {
  Create();
  Ok({"remove"});
  EXPECT_TRUE(IsOneLineError(Run({"info"}), "segment '" + name_ + "' not found"));
  EXPECT_TRUE(IsOneLineError(Run({"remove"}), "segment '" + name_ + "' not found"));
}

TEST_F(ShmctlTest, MissingSegmentIsAOneLineError) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"info"}, {"keys"}, {"get", "k"}, {"set", "k", "1"}, {"flush"}}) {
    ProcessResult r = Run(args);
    EXPECT_EQ(r.err, "upcheck-shmctl: segment '" + name_ + "' not found\n") << args[0];
    EXPECT_EQ(r.exit_code, 1) << args[0];
  }
}

TEST_F(ShmctlTest, WrongLayoutVersionIsRefused) {
  Create();
  PokeHeader([](shm::SegmentHeaderShm* h) { h->layout_version = 99; });
  const std::string want = "segment '" + name_ + "' has layout version 99; this build reads " +
                           std::to_string(Segment::kLayoutVersion);
  EXPECT_TRUE(IsOneLineError(Run({"info"}), want));
  EXPECT_TRUE(IsOneLineError(Run({"keys", "--json"}), want));
  EXPECT_TRUE(IsOneLineError(Run({"set", "k", "1"}), want));
}

TEST_F(ShmctlTest, ValuesAreTypedLikeTheOriginal) {
  Create();
  const std::vector<std::vector<std::string>> sets = {
      {"s", "hello"},  {"n", "12"},    {"neg", "-3.5"},
      {"e", "1e3"},    {"b", "true"},  {"f", "false"},
      {"x", "12abc"},  {"plus", "+2"}, {"forced", "12", "--string"},
      {"space", "a b"}};
  for (std::vector<std::string> args : sets) {
    args.insert(args.begin(), "set");
    Ok(args);
  }
  struct Want {
    const char* key;
    json value;
    const char* type;
    const char* text;
  };
  for (const Want& w : std::vector<Want>{{"s", "hello", "string", "hello"},
                                         {"n", 12, "number", "12"},
                                         {"neg", -3.5, "number", "-3.5"},
                                         {"e", 1000, "number", "1000"},
                                         {"b", true, "boolean", "true"},
                                         {"f", false, "boolean", "false"},
                                         {"x", "12abc", "string", "12abc"},
                                         {"plus", 2, "number", "2"},
                                         {"forced", "12", "string", "12"},
                                         {"space", "a b", "string", "a b"}}) {
    EXPECT_EQ(Ok({"get", w.key}), std::string(w.text) + "\n") << w.key;
    json doc = OkJson({"get", w.key, "--json"});
    EXPECT_EQ(doc, json({{"key", w.key}, {"value", w.value}, {"type", w.type}})) << w.key;
  }
}

TEST_F(ShmctlTest, GetOfAMissingKeyFails) {
  Create();
  ProcessResult r = Run({"get", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "upcheck-shmctl: key \"nope\" not found\n");
  EXPECT_TRUE(IsOneLineError(Run({"get", "nope", "--json"}), "key \"nope\" not found"));
}

TEST_F(ShmctlTest, KeysAreSortedWithValueAndTtl) {
  Create();
  // What the TTL may have run down by is measured: tool runs take seconds under sanitizers.
  const auto set_at = std::chrono::steady_clock::now();
  auto passed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - set_at).count();
  };
  Ok({"set", "l:foo.com", "true", "--ttl", "1000"});
  Ok({"set", "d:foo.com:p1", "true"});
  Ok({"set", "v:foo.com", "3"});
  Ok({"set", "d:foo.com:b0", "true"});
  const std::string out = Ok({"keys"});
  const std::vector<std::string> lines = Split(out, '\n');
  ASSERT_EQ(lines.size(), 5u) << out;  // four lines and the empty rest after the last '\n'
  EXPECT_EQ(lines[0], "d:foo.com:b0\ttrue\t-");
  EXPECT_EQ(lines[1], "d:foo.com:p1\ttrue\t-");
  EXPECT_EQ(lines[3], "v:foo.com\t3\t-");
  EXPECT_EQ(lines[4], "");
  const std::vector<std::string> lock = Split(lines[2], '\t');
  ASSERT_EQ(lock.size(), 3u) << lines[2];
  EXPECT_EQ(lock[0], "l:foo.com");
  EXPECT_EQ(lock[1], "true");
  ASSERT_EQ(lock[2].back(), 's') << lock[2];
  const std::string seconds = lock[2].substr(0, lock[2].size() - 1);
  EXPECT_TRUE(IsSecondsMs(seconds)) << lock[2];
  EXPECT_GE(std::stod(seconds), 1000.0 - passed() - 0.01);
  EXPECT_LE(std::stod(seconds), 1000.0);
  EXPECT_EQ(Ok({"keys", "d:"}), "d:foo.com:b0\ttrue\t-\nd:foo.com:p1\ttrue\t-\n");
  EXPECT_EQ(Ok({"keys", "nothing:"}), "");

  json keys = OkJson({"keys", "--json"});
  ASSERT_TRUE(keys.is_array());
  ASSERT_EQ(keys.size(), 4u);
  EXPECT_EQ(keys[0],
            json({{"key", "d:foo.com:b0"}, {"value", true}, {"type", "boolean"}, {"ttl_ms", 0}}));
  EXPECT_EQ(keys[2]["key"], "l:foo.com");
  EXPECT_GE(static_cast<double>(keys[2]["ttl_ms"].get<int64_t>()), 1000e3 - passed() * 1e3 - 1);
  EXPECT_LE(keys[2]["ttl_ms"].get<int64_t>(), 1000000);
  EXPECT_EQ(keys[3], json({{"key", "v:foo.com"}, {"value", 3}, {"type", "number"}, {"ttl_ms", 0}}));
  EXPECT_EQ(OkJson({"keys", "zzz", "--json"}), json::array());
}

TEST_F(ShmctlTest, KeysEscapesTabsAndNewlines) {
  Create();
  Ok({"set", "a\tb", "line1\nline2\\"});
  EXPECT_EQ(Ok({"keys"}), "a\\tb\tline1\\nline2\\\\\t-\n");
  EXPECT_EQ(Ok({"get", "a\tb"}), "line1\nline2\\\n");  // get prints the value as is
  EXPECT_EQ(OkJson({"keys", "--json"})[0]["value"], "line1\nline2\\");
}

TEST_F(ShmctlTest, TtlReportsSecondsOrZero) {
  Create();
  // The key must outlive the three runs of the tool below, however loaded the machine (a
  // run takes seconds under valgrind): 30 s, far more than they take.
  const int64_t short_ms = 30000 * testing::SlowToolFactor();
  Ok({"set", "short", "1", "--ttl", std::to_string(short_ms / 1000.0)});
  Ok({"set", "forever", "1"});
  const std::string out = Ok({"ttl", "short"});
  ASSERT_EQ(out.back(), '\n');
  EXPECT_TRUE(IsSecondsMs(out.substr(0, out.size() - 1))) << out;
  EXPECT_GT(std::stod(out), 0.0);
  EXPECT_LE(std::stod(out), short_ms / 1000.0);
  json doc = OkJson({"ttl", "short", "--json"});
  EXPECT_EQ(doc["key"], "short");
  EXPECT_GT(doc["ttl_ms"].get<int64_t>(), 0);
  EXPECT_LE(doc["ttl_ms"].get<int64_t>(), short_ms);
  EXPECT_EQ(Ok({"ttl", "forever"}), "0\n");
  EXPECT_EQ(OkJson({"ttl", "forever", "--json"}), json({{"key", "forever"}, {"ttl_ms", 0}}));
  EXPECT_TRUE(IsOneLineError(Run({"ttl", "nope"}), "key \"nope\" not found"));
  EXPECT_TRUE(IsOneLineError(Run({"ttl", "nope", "--json"}), "key \"nope\" not found"));
}

TEST_F(ShmctlTest, AnEntryExpiresAfterItsTtl) {
  Create();
  Ok({"set", "brief", "x", "--ttl", "0.05"});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  ProcessResult r;
  do {
    r = Run({"get", "brief"});
  } while (r.exit_code == 0 && std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(IsOneLineError(r, "key \"brief\" not found"));
  EXPECT_EQ(Ok({"flush", "--expired"}), "1\n");
  EXPECT_EQ(OkJson({"info", "--json"})["dict"]["entries"], 0);
}

TEST_F(ShmctlTest, AddFailsWithExistsAndKeepsTheValue) {
  Create();
  Ok({"add", "k", "1", "--ttl", "0"});
  EXPECT_TRUE(IsOneLineError(Run({"add", "k", "2"}), "key \"k\" exists"));
  EXPECT_EQ(Ok({"get", "k"}), "1\n");
  Ok({"add", "other", "true", "--ttl", "60"});
  EXPECT_EQ(OkJson({"get", "other", "--json"})["type"], "boolean");
}

TEST_F(ShmctlTest, IncrLikeTheDict) {
  Create();
  EXPECT_TRUE(IsOneLineError(Run({"incr", "v:foo", "1"}), "key \"v:foo\" not found"));
  EXPECT_TRUE(IsOneLineError(Run({"get", "v:foo"}), "not found"));
  EXPECT_EQ(Ok({"incr", "v:foo", "1", "--init", "0"}), "1\n");
  EXPECT_EQ(Ok({"incr", "v:foo", "5"}), "6\n");
  EXPECT_EQ(Ok({"incr", "v:foo", "-2"}), "4\n");
  EXPECT_EQ(Ok({"incr", "v:foo", "0.5"}), "4.5\n");
  Ok({"set", "s", "text"});
  EXPECT_TRUE(IsOneLineError(Run({"incr", "s", "1"}), "key \"s\" is not a number"));
  EXPECT_TRUE(IsOneLineError(Run({"incr", "v:foo", "x"}), "bad increment \"x\""));
  EXPECT_TRUE(IsOneLineError(Run({"incr", "v:foo", "nan"}), "bad increment \"nan\""));
  EXPECT_TRUE(IsOneLineError(Run({"incr", "new", "1", "--init", "inf"}), "bad init value"));
  EXPECT_EQ(Ok({"get", "v:foo"}), "4.5\n");
  EXPECT_TRUE(IsOneLineError(Run({"get", "new"}), "not found"));
}

TEST_F(ShmctlTest, BadValuesAndTtlsChangeNothing) {
  Create();
  // The remaining TTL may only have run down by the time that passed: a bad command that
  // touched it would have set or cleared it. Measured, not guessed: sanitizers under load
  // take seconds for the commands below.
  const auto set_at = std::chrono::steady_clock::now();
  Ok({"set", "k", "1", "--ttl", "1000"});
  Ok({"set", "b", "true"});
  // Everything but the remaining TTL, which moves on by itself.
  auto state = [this] {
    json keys = OkJson({"keys", "--json"});
    for (json& k : keys) k.erase("ttl_ms");
    return keys;
  };
  const json before = state();
  ASSERT_EQ(before.size(), 2u);
  struct Case {
    std::vector<std::string> args;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {{"set", "k", "nan"}, "bad value \"nan\""},
           {{"set", "k", "--", "-inf"}, "bad value \"-inf\""},
           {{"set", "k", "-inf"}, "goes after \"--\", e.g. set KEY -- -inf"},
           {{"set", "k", "1e999"}, "bad value \"1e999\""},
           {{"set", "new", "nan"}, "bad value"},
           {{"add", "new", "inf"}, "bad value"},
           {{"set", "k", "2", "--ttl", "-1"}, "bad ttl \"-1\""},
           {{"set", "k", "2", "--ttl", "abc"}, "bad ttl \"abc\""},
           {{"set", "k", "2", "--ttl", "1s"}, "bad ttl \"1s\""},
           {{"set", "k", "2", "--ttl", "0.0001"}, "below 1 ms"},
           {{"set", "k", "2", "--ttl", "nan"}, "bad ttl"},
           {{"add", "new", "2", "--ttl", "-0.5"}, "bad ttl"},
           {{"set", "", "2"}, "empty key"},
       }) {
    EXPECT_TRUE(IsOneLineError(Run(c.args), c.error)) << c.args[0] << " " << c.args[1];
  }
  EXPECT_EQ(state(), before);
  const double ttl = std::stod(Ok({"ttl", "k"}));
  const double passed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - set_at).count();
  EXPECT_LE(ttl, 1000.0);
  EXPECT_GE(ttl, 1000.0 - passed - 0.01) << passed << " s passed";
  EXPECT_EQ(Ok({"get", "k"}), "1\n");
}

TEST_F(ShmctlTest, NegativeNumbersAreValuesNotOptions) {
  Create();
  Ok({"set", "k", "-3"});
  EXPECT_EQ(OkJson({"get", "k", "--json"})["value"], -3);
  Ok({"set", "k", "--", "-.5"});  // CLI11 takes "-." for an option unless after "--"
  EXPECT_EQ(Ok({"get", "k"}), "-0.5\n");
}

TEST_F(ShmctlTest, DelAndFlush) {
  Create();
  Ok({"set", "a", "1"});
  Ok({"set", "b", "2"});
  Ok({"set", "c", "3"});
  EXPECT_EQ(Ok({"del", "a"}), "");
  EXPECT_TRUE(IsOneLineError(Run({"get", "a"}), "not found"));
  Ok({"del", "a"});  // absent: still fine, as ngx.shared.DICT:delete
  EXPECT_EQ(Ok({"keys"}), "b\t2\t-\nc\t3\t-\n");
  EXPECT_EQ(Ok({"flush"}), "");
  EXPECT_EQ(Ok({"keys"}), "");
  EXPECT_EQ(OkJson({"info", "--json"})["dict"]["entries"], 2);  // expired, not yet freed
  EXPECT_EQ(Ok({"flush", "--expired"}), "2\n");
  EXPECT_EQ(OkJson({"info", "--json"})["dict"]["entries"], 0);
}

TEST_F(ShmctlTest, SegmentOptionMayFollowTheCommand) {
  Create();
  Ok({"set", "k", "v"});
  ProcessResult r = RunRaw({binary_, "get", "k", "-s", name_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "v\n");
}

// Writes `text` to a file of this test's own and returns its path.
std::string WriteTempFile(const std::string& stem, const std::string& text) {
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + stem + ".toml";
  std::ofstream(path) << text;
  return path;
}

TEST_F(ShmctlTest, ConfigFileNamesTheSegment) {
  Create();
  Ok({"set", "v:foo.com", "7"});
  const std::string good = WriteTempFile(name_, "[shm]\nname = \"" + name_ +
                                                    "\"\n\n[[upstream]]\nname = \"foo.com\"\n"
                                                    "primary = [\"127.0.0.1:12354\"]\n");
  ProcessResult r = RunRaw({binary_, "-c", good, "get", "v:foo.com"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "7\n");

  const std::string bad =
      WriteTempFile(name_ + "-bad", "[shm]\nname = \"a/b\"\nsize = \"12q\"\nbogus = 1\n");
  EXPECT_TRUE(IsOneLineError(RunRaw({binary_, "-c", bad, "info"}), "more problem"));
  EXPECT_TRUE(IsOneLineError(RunRaw({binary_, "-c", good + ".missing", "info"}), ".missing"));
  std::remove(good.c_str());
  std::remove(bad.c_str());
}

TEST_F(ShmctlTest, UsageErrorsAreOneLine) {
  EXPECT_TRUE(IsOneLineError(RunRaw({binary_}), "subcommand"));
  EXPECT_TRUE(IsOneLineError(RunRaw({binary_, "frobnicate"}), "unknown command \"frobnicate\""));
  EXPECT_TRUE(IsOneLineError(Run({"get"}), "KEY"));
  EXPECT_TRUE(IsOneLineError(Run({"get", "a", "b"}), "b"));
  EXPECT_TRUE(IsOneLineError(Run({"set", "k", "1", "--bogus"}), "--bogus"));
  EXPECT_TRUE(IsOneLineError(Run({"-c", "upcheck.toml", "info"}), "excludes"));
  EXPECT_TRUE(IsOneLineError(RunRaw({binary_, "-s", "bad/name", "info"}), "may hold only"));
}

}  // namespace
}  // namespace upcheck
