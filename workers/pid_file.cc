#include "pid_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <system_error>

#include <fmt/format.h>

namespace upcheck::daemon {
namespace {

// The pid written in `path`, or 0 when there is no file or no number in it.
pid_t ReadPid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

Status WriteAtomically(const std::string& path, const std::string& text) {
  std::string temp = path + ".tmp";
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::Error(
        fmt::format("cannot write pid file {}: {}", temp, std::generic_category().message(errno)));
  }
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int saved = errno;
  close(fd);
  if (!ok || rename(temp.c_str(), path.c_str()) != 0) {
    if (ok) saved = errno;
    unlink(temp.c_str());
    return Status::Error(
        fmt::format("cannot write pid file {}: {}", path, std::generic_category().message(saved)));
  }
  return Status::Ok();
}

}  // namespace

Result<pid_t> ReadPidFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::Error(
        fmt::format("cannot read pid file {}: {}", path, std::generic_category().message(errno)));
  }
  close(fd);
  pid_t pid = ReadPid(path);
  if (pid == 0) return Status::Error(fmt::format("pid file {} holds no pid", path));
  return pid;
}

Result<std::unique_ptr<PidFile>> PidFile::Create(std::string path) {
  pid_t old = ReadPid(path);
  if (old > 0 && old != getpid() && (kill(old, 0) == 0 || errno == EPERM)) {
    return Result<std::unique_ptr<PidFile>>::Error(
        fmt::format("pid file {} names a running process (pid {})", path, old));
  }
  if (Status st = WriteAtomically(path, fmt::format("{}\n", getpid())); !st) return st;
  return std::unique_ptr<PidFile>(new PidFile(std::move(path), getpid()));
}

PidFile::~PidFile() {
  if (getpid() == owner_ && ReadPid(path_) == owner_) unlink(path_.c_str());
}

}  // namespace upcheck::daemon
