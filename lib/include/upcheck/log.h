// Logger: nginx-style error log lines, "2026/11/23 18:00:00 [warn] 4242#0: <message>".
//
// One Logger per process, shared by its threads: Log() is thread-safe, and each line goes
// out with a single write(2) on an O_APPEND descriptor, so lines from several processes
// writing the same file never interleave. A disabled level costs one relaxed atomic load
// and never allocates; callers guard costly formatting with enabled().
#ifndef UPCHECK_LOG_H_
#define UPCHECK_LOG_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_LOG)
#error "upcheck/log.h belongs to log/, a layer above (see lib/meson.build)"
#endif

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "upcheck/status.h"

namespace upcheck {

// nginx's levels that the engine uses, in increasing severity.
enum class LogLevel : uint8_t { kDebug, kInfo, kNotice, kWarn, kError };

// "debug", "info", "notice", "warn" or "error" (nginx prints "error" for ERR).
std::string_view LogLevelName(LogLevel level);

// The inverse of LogLevelName. Error: `unknown log level "x" (expected debug, info,
// notice, warn or error)`.
Result<LogLevel> ParseLogLevel(std::string_view text);

class Logger {
 public:
  // Receives the level and the message text as given (no timestamp, no newline).
  using Callback = std::function<void(LogLevel level, std::string_view message)>;

  // Writes to stderr (not owned).
  static Logger Stderr(LogLevel min_level);
  // Opens (creating it, mode 0644) `path` for appending. Error names the path and errno.
  static Result<Logger> File(std::string path, LogLevel min_level);
  // Calls `callback` for each enabled line; it must be thread-safe if Log() is called from
  // several threads. Meant for tests and for hosts with their own logging.
  static Logger ToCallback(Callback callback, LogLevel min_level);

  Logger(Logger&& other) noexcept;
  Logger& operator=(Logger&& other) noexcept;
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;
  ~Logger();

  bool enabled(LogLevel level) const {
    return static_cast<uint8_t>(level) >=
           static_cast<uint8_t>(min_level_.load(std::memory_order_relaxed));
  }
  LogLevel min_level() const { return min_level_.load(std::memory_order_relaxed); }
  void set_min_level(LogLevel level) { min_level_.store(level, std::memory_order_relaxed); }

  // Writes one line if `level` is enabled. Messages longer than the stack buffer (4 KiB
  // with the prefix) allocate once; shorter ones never do. Write errors are ignored, as
  // nginx does: there is nowhere left to report them.
  void Log(LogLevel level, std::string_view message) const {
    if (enabled(level)) Write(level, message);
  }
  void Debug(std::string_view message) const { Log(LogLevel::kDebug, message); }
  void Info(std::string_view message) const { Log(LogLevel::kInfo, message); }
  void Notice(std::string_view message) const { Log(LogLevel::kNotice, message); }
  void Warn(std::string_view message) const { Log(LogLevel::kWarn, message); }
  void Error(std::string_view message) const { Log(LogLevel::kError, message); }

  // Reopens the file at the same path, for log rotation (e.g. on SIGUSR1). Safe while other
  // threads log: the new file replaces the old descriptor atomically (dup3). A no-op for
  // the stderr and callback sinks. On error the old file stays in use.
  Status Reopen();

 private:
  enum class Sink : uint8_t { kFd, kCallback };
  Logger(Sink sink, int fd, bool owns_fd, std::string path, Callback callback, LogLevel min_level);
  void Write(LogLevel level, std::string_view message) const;

  Sink sink_;
  int fd_;        // kFd: where lines go; -1 after a move
  bool owns_fd_;  // true for File()
  std::string path_;
  Callback callback_;
  std::atomic<LogLevel> min_level_;
};

}  // namespace upcheck

#endif  // UPCHECK_LOG_H_
