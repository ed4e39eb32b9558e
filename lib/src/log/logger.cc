#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <system_error>
#include <utility>

#include "upcheck/log.h"

namespace upcheck {
namespace {

constexpr std::string_view kLevelNames[] = {"debug", "info", "notice", "warn", "error"};

// "2026/11/23 18:00:00 [warn] 4242#0: " is at most 19 + 2 + 6 + 2 + 10 + 4 bytes.
constexpr size_t kMaxPrefix = 64;
constexpr size_t kStackLine = 4096;

// Writes the line prefix into `out` (at least kMaxPrefix bytes); returns its length.
size_t FormatPrefix(LogLevel level, char* out) {
  const time_t now = time(nullptr);
  struct tm local;
  localtime_r(&now, &local);
  size_t length = strftime(out, kMaxPrefix, "%Y/%m/%d %H:%M:%S [", &local);
  const std::string_view name = LogLevelName(level);
  memcpy(out + length, name.data(), name.size());
  length += name.size();
  const int written =
      snprintf(out + length, kMaxPrefix - length, "] %ld#0: ", static_cast<long>(getpid()));
  return length + static_cast<size_t>(written);
}

// One write(2) per line; retried only if interrupted or partial (a pipe or a full disk).
void WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

Result<int> OpenForAppend(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Result<int>::Error("cannot open log file \"" + path +
                              "\": " + std::generic_category().message(errno));
  }
  return fd;
}

}  // namespace

std::string_view LogLevelName(LogLevel level) { return kLevelNames[static_cast<uint8_t>(level)]; }

Result<LogLevel> ParseLogLevel(std::string_view text) {
  for (size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (text == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  return Result<LogLevel>::Error("unknown log level \"" + std::string(text) +
                                 "\" (expected debug, info, notice, warn or error)");
}

Logger::Logger(Sink sink, int fd, bool owns_fd, std::string path, Callback callback,
               LogLevel min_level)
    : sink_(sink),
      fd_(fd),
      owns_fd_(owns_fd),
      path_(std::move(path)),
      callback_(std::move(callback)),
      min_level_(min_level) {}

Logger Logger::Stderr(LogLevel min_level) {
  return Logger(Sink::kFd, STDERR_FILENO, /*owns_fd=*/false, "", nullptr, min_level);
}

Result<Logger> Logger::File(std::string path, LogLevel min_level) {
  const Result<int> fd = OpenForAppend(path);
  if (!fd.ok()) return fd.status();
  return Logger(Sink::kFd, *fd, /*owns_fd=*/true, std::move(path), nullptr, min_level);
}

Logger Logger::ToCallback(Callback callback, LogLevel min_level) {
  return Logger(Sink::kCallback, -1, /*owns_fd=*/false, "", std::move(callback), min_level);
}

Logger::Logger(Logger&& other) noexcept
    : sink_(other.sink_),
      fd_(std::exchange(other.fd_, -1)),
      owns_fd_(std::exchange(other.owns_fd_, false)),
      path_(std::move(other.path_)),
      callback_(std::move(other.callback_)),
      min_level_(other.min_level()) {}

Logger& Logger::operator=(Logger&& other) noexcept {
  if (this != &other) {
    if (owns_fd_) close(fd_);
    sink_ = other.sink_;
    fd_ = std::exchange(other.fd_, -1);
    owns_fd_ = std::exchange(other.owns_fd_, false);
    path_ = std::move(other.path_);
    callback_ = std::move(other.callback_);
    set_min_level(other.min_level());
  }
  return *this;
}

Logger::~Logger() {
  if (owns_fd_) close(fd_);
}

void Logger::Write(LogLevel level, std::string_view message) const {
  if (sink_ == Sink::kCallback) {
    if (callback_) callback_(level, message);
    return;
  }
  if (fd_ < 0) return;
  char stack[kStackLine];
  const size_t needed = kMaxPrefix + message.size() + 1;
  std::unique_ptr<char[]> heap;
  char* line = stack;
  if (needed > sizeof(stack)) {
    heap = std::make_unique_for_overwrite<char[]>(needed);
    line = heap.get();
  }
  size_t length = FormatPrefix(level, line);
  memcpy(line + length, message.data(), message.size());
  length += message.size();
  line[length++] = '\n';
  WriteAll(fd_, line, length);
}

Status Logger::Reopen() {
  if (!owns_fd_) return Status::Ok();
  const Result<int> fd = OpenForAppend(path_);
  if (!fd.ok()) return fd.status();
  // dup3 swaps the file under fd_ atomically: a concurrent Write() uses the old file or
  // the new one, never a closed descriptor. (dup2 would drop close-on-exec.)
  const int result = dup3(*fd, fd_, O_CLOEXEC);
  const int saved_errno = errno;
  close(*fd);
  if (result < 0) {
    return Status::Error("cannot reopen log file \"" + path_ +
                         "\": " + std::generic_category().message(saved_errno));
  }
  return Status::Ok();
}

}  // namespace upcheck
