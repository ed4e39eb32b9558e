// PidFile: daemon.pid_file, written with the master's pid and removed when the master
// exits.
//
// Master only. Create() refuses a file that names a live process other than this one and
// replaces a stale one. The destructor removes the file only in the process that wrote it
// (a forked worker that somehow destroys a copy leaves it alone).
#ifndef UPCHECK_WORKERS_PID_FILE_H_
#define UPCHECK_WORKERS_PID_FILE_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "upcheck/status.h"

namespace upcheck::daemon {

// The pid in a pid file, for `upcheckd -s`. Errors: "cannot read pid file x: <errno text>"
// and "pid file x holds no pid".
Result<pid_t> ReadPidFile(const std::string& path);

class PidFile {
 public:
  // Writes getpid() and a newline to `path` (mode 0600, via a temporary file and rename).
  // Errors: "pid file x names a running process (pid N)", or the path and errno.
  static Result<std::unique_ptr<PidFile>> Create(std::string path);
  ~PidFile();
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  PidFile(std::string path, pid_t owner) : path_(std::move(path)), owner_(owner) {}
  std::string path_;
  pid_t owner_;
};

}  // namespace upcheck::daemon

#endif  // UPCHECK_WORKERS_PID_FILE_H_
