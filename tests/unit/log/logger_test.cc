// nginx-style log lines, level parsing and filtering, the three sinks.
#include <gtest/gtest.h>
#include <regex.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "upcheck/log.h"

// Counts allocations made by this test binary, to show that disabled levels allocate nothing.
std::atomic<long> g_allocations{0};

void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// noinline: GCC otherwise sees free() of a pointer from `new` and warns (a false positive).
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace upcheck {
namespace {

namespace fs = std::filesystem;

// A fresh directory under TMPDIR, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "upcheck-log-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path path() const { return path_; }

 private:
  fs::path path_;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// POSIX extended regex match of the whole text (std::regex trips GCC 12's
// -Wmaybe-uninitialized under the sanitizers).
bool Matches(const std::string& text, const std::string& pattern) {
  regex_t re;
  if (regcomp(&re, ("^" + pattern + "$").c_str(), REG_EXTENDED | REG_NOSUB) != 0) {
    ADD_FAILURE() << "bad pattern " << pattern;
    return false;
  }
  const bool matched = regexec(&re, text.c_str(), 0, nullptr, 0) == 0;
  regfree(&re);
  return matched;
}

constexpr const char* kTimestamp = "[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}";

// "2026/11/23 18:00:00 [warn] 4242#0: <message>" for this process.
std::string LinePattern(std::string_view level, std::string_view message) {
  return std::string(kTimestamp) + " \\[" + std::string(level) + "\\] " + std::to_string(getpid()) +
         "#0: " + std::string(message);
}

TEST(LogLevelTest, NamesAndParsing) {
  const std::pair<LogLevel, std::string_view> levels[] = {
      {LogLevel::kDebug, "debug"}, {LogLevel::kInfo, "info"},   {LogLevel::kNotice, "notice"},
      {LogLevel::kWarn, "warn"},   {LogLevel::kError, "error"},
  };
  for (const auto& [level, name] : levels) {
    EXPECT_EQ(LogLevelName(level), name);
    const Result<LogLevel> parsed = ParseLogLevel(name);
    ASSERT_TRUE(parsed.ok()) << name;
    EXPECT_EQ(*parsed, level);
  }
}

TEST(LogLevelTest, UnknownLevelNamesTheValue) {
  for (std::string_view bad : {"verbose", "", "WARN", "err", "warning", "debug "}) {
    const Result<LogLevel> parsed = ParseLogLevel(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error(), "unknown log level \"" + std::string(bad) +
                                  "\" (expected debug, info, notice, warn or error)");
  }
}

TEST(LoggerTest, FileLinesLookLikeNginx) {
  TempDir dir;
  const fs::path path = dir.path() / "error.log";
  Result<Logger> logger = Logger::File(path.string(), LogLevel::kDebug);
  ASSERT_TRUE(logger.ok()) << logger.error();
  logger->Warn("healthcheck: peer 127.0.0.1:12356 is turned down after 2 failure(s)");
  logger->Error("healthcheck: failed to connect to 127.0.0.1:12356: connection refused");
  logger->Debug("healthcheck: peer 127.0.0.1:12354 was checked to be ok");
  logger->Info("i");
  logger->Notice("n");

  const std::vector<std::string> lines = Lines(ReadFile(path));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_TRUE(Matches(lines[0], LinePattern("warn",
                                            "healthcheck: peer 127\\.0\\.0\\.1:12356 is turned "
                                            "down after 2 failure\\(s\\)")))
      << lines[0];
  EXPECT_TRUE(Matches(lines[1], LinePattern("error", "healthcheck: failed to connect to .*")))
      << lines[1];
  EXPECT_TRUE(Matches(lines[2], LinePattern("debug", "healthcheck: .*"))) << lines[2];
  EXPECT_TRUE(Matches(lines[3], LinePattern("info", "i"))) << lines[3];
  EXPECT_TRUE(Matches(lines[4], LinePattern("notice", "n"))) << lines[4];
  // The pattern itself is strict.
  EXPECT_FALSE(Matches("2026/11/23 18:00 [notice] " + std::to_string(getpid()) + "#0: n",
                       LinePattern("notice", "n")));
}

TEST(LoggerTest, TimestampIsLocalTimeNow) {
  TempDir dir;
  const fs::path path = dir.path() / "error.log";
  Result<Logger> logger = Logger::File(path.string(), LogLevel::kWarn);
  ASSERT_TRUE(logger.ok());
  const time_t before = time(nullptr);
  logger->Warn("x");
  const time_t after = time(nullptr);
  const std::string line = ReadFile(path);
  std::vector<std::string> allowed;
  for (time_t t = before; t <= after; ++t) {
    struct tm local;
    localtime_r(&t, &local);
    char text[32];
    strftime(text, sizeof(text), "%Y/%m/%d %H:%M:%S", &local);
    allowed.push_back(text);
  }
  EXPECT_NE(std::find(allowed.begin(), allowed.end(), line.substr(0, 19)), allowed.end()) << line;
}

TEST(LoggerTest, FiltersBelowTheMinimumLevel) {
  std::vector<std::pair<LogLevel, std::string>> seen;
  Logger logger = Logger::ToCallback(
      [&](LogLevel level, std::string_view message) { seen.emplace_back(level, message); },
      LogLevel::kWarn);
  EXPECT_FALSE(logger.enabled(LogLevel::kDebug));
  EXPECT_FALSE(logger.enabled(LogLevel::kInfo));
  EXPECT_FALSE(logger.enabled(LogLevel::kNotice));
  EXPECT_TRUE(logger.enabled(LogLevel::kWarn));
  EXPECT_TRUE(logger.enabled(LogLevel::kError));
  logger.Debug("d");
  logger.Info("i");
  logger.Notice("n");
  logger.Warn("w");
  logger.Log(LogLevel::kError, "e");
  EXPECT_EQ(seen, (std::vector<std::pair<LogLevel, std::string>>{{LogLevel::kWarn, "w"},
                                                                 {LogLevel::kError, "e"}}));
  seen.clear();
  logger.set_min_level(LogLevel::kDebug);
  EXPECT_EQ(logger.min_level(), LogLevel::kDebug);
  logger.Debug("healthcheck: run a check cycle");
  EXPECT_EQ(seen, (std::vector<std::pair<LogLevel, std::string>>{
                      {LogLevel::kDebug, "healthcheck: run a check cycle"}}));
}

TEST(LoggerTest, DisabledAndShortLinesDoNotAllocate) {
  TempDir dir;
  Result<Logger> logger = Logger::File((dir.path() / "error.log").string(), LogLevel::kWarn);
  ASSERT_TRUE(logger.ok());
  const std::string message = "healthcheck: peer 127.0.0.1:12354 was checked to be ok";
  const long before = g_allocations.load();
  for (int i = 0; i < 1000; ++i) logger->Debug(message);
  logger->Warn(message);  // enabled, but short: formatted on the stack
  EXPECT_EQ(g_allocations.load(), before);
}

TEST(LoggerTest, FileOpenErrorNamesThePath) {
  const Result<Logger> logger = Logger::File("/nonexistent-dir/x.log", LogLevel::kWarn);
  ASSERT_FALSE(logger.ok());
  EXPECT_EQ(logger.error(),
            "cannot open log file \"/nonexistent-dir/x.log\": No such file or directory");
}

TEST(LoggerTest, AppendsToAnExistingFile) {
  TempDir dir;
  const fs::path path = dir.path() / "error.log";
  std::ofstream(path) << "old line\n";
  Result<Logger> logger = Logger::File(path.string(), LogLevel::kWarn);
  ASSERT_TRUE(logger.ok());
  logger->Warn("new");
  const std::vector<std::string> lines = Lines(ReadFile(path));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "old line");
  EXPECT_TRUE(lines[1].ends_with("#0: new"));
}

TEST(LoggerTest, ReopenFollowsLogRotation) {
  TempDir dir;
  const fs::path path = dir.path() / "error.log";
  const fs::path rotated = dir.path() / "error.log.1";
  Result<Logger> logger = Logger::File(path.string(), LogLevel::kWarn);
  ASSERT_TRUE(logger.ok());
  logger->Warn("before");
  fs::rename(path, rotated);
  logger->Warn("still old");
  ASSERT_TRUE(logger->Reopen().ok());
  logger->Warn("after");
  EXPECT_EQ(Lines(ReadFile(rotated)).size(), 2u);
  const std::vector<std::string> lines = Lines(ReadFile(path));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].ends_with("#0: after"));
}

TEST(LoggerTest, ReopenErrorKeepsTheOldFile) {
  TempDir dir;
  const fs::path sub = dir.path() / "sub";
  fs::create_directory(sub);
  const fs::path path = sub / "error.log";
  Result<Logger> logger = Logger::File(path.string(), LogLevel::kWarn);
  ASSERT_TRUE(logger.ok());
  fs::rename(path, dir.path() / "moved.log");
  fs::remove(sub);
  const Status status = logger->Reopen();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(),
            "cannot open log file \"" + path.string() + "\": No such file or directory");
  logger->Warn("kept");
  EXPECT_TRUE(ReadFile(dir.path() / "moved.log").ends_with("#0: kept\n"));
}

TEST(LoggerTest, ReopenIsANoOpForOtherSinks) {
  Logger logger = Logger::ToCallback([](LogLevel, std::string_view) {}, LogLevel::kWarn);
  EXPECT_TRUE(logger.Reopen().ok());
  Logger stderr_logger = Logger::Stderr(LogLevel::kError);
  EXPECT_TRUE(stderr_logger.Reopen().ok());
}

TEST(LoggerTest, StderrSinkWritesToFd2) {
  testing::internal::CaptureStderr();
  Logger logger = Logger::Stderr(LogLevel::kWarn);
  logger.Warn("to stderr");
  logger.Debug("hidden");
  const std::string text = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(Matches(text, LinePattern("warn", "to stderr") + "\n")) << text;
}

TEST(LoggerTest, LongMessagesAreWholeLines) {
  TempDir dir;
  const fs::path path = dir.path() / "error.log";
  Result<Logger> logger = Logger::File(path.string(), LogLevel::kWarn);
  ASSERT_TRUE(logger.ok());
  const std::string long_message(100000, 'x');
  logger->Warn(long_message);
  logger->Warn("short");
  const std::vector<std::string> lines = Lines(ReadFile(path));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0].ends_with("#0: " + long_message));
  EXPECT_TRUE(lines[1].ends_with("#0: short"));
}

TEST(LoggerTest, ProcessesAndThreadsNeverInterleaveLines) {
  TempDir dir;
  const fs::path path = dir.path() / "error.log";
  constexpr int kProcesses = 4;
  constexpr int kThreads = 2;
  constexpr int kLines = 500;
  const std::string payload(1000, 'p');
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      Result<Logger> logger = Logger::File(path.string(), LogLevel::kWarn);
      if (!logger.ok()) _exit(1);
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
          for (int i = 0; i < kLines; ++i) logger->Warn(payload);
        });
      }
      for (std::thread& thread : threads) thread.join();
      _exit(0);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const std::vector<std::string> lines = Lines(ReadFile(path));
  ASSERT_EQ(lines.size(), size_t{kProcesses * kThreads * kLines});
  const std::string prefix = std::string(kTimestamp) + " \\[warn\\] [0-9]+#0: ";
  for (const std::string& line : lines) {
    ASSERT_TRUE(line.ends_with(payload)) << line;
    ASSERT_TRUE(Matches(line.substr(0, line.size() - payload.size()), prefix)) << line;
  }
}

TEST(LoggerTest, IsMovable) {
  TempDir dir;
  const fs::path path = dir.path() / "error.log";
  Result<Logger> opened = Logger::File(path.string(), LogLevel::kWarn);
  ASSERT_TRUE(opened.ok());
  Logger logger = std::move(opened).value();
  logger.Warn("one");
  Logger other = Logger::Stderr(LogLevel::kError);
  other = std::move(logger);
  other.Warn("two");
  EXPECT_EQ(Lines(ReadFile(path)).size(), 2u);
}

}  // namespace
}  // namespace upcheck
