// NginxProcess: Debian's nginx ($NGINX, else /usr/sbin/nginx) with the upcheck module
// ($UPCHECK_NGINX_MODULE) in a temporary prefix, for end-to-end tests of the module.
// The caller gives http{}'s body; the harness writes the rest of nginx.conf. Start() runs
// nginx as users do (daemon, master, workers) and waits on the pid file and /proc; the
// destructor stops it and removes every `upcheck_shm` segment the configurations named.
// Use from the test's thread only.
#ifndef UPCHECK_TESTS_SUPPORT_NGINX_PROCESS_H_
#define UPCHECK_TESTS_SUPPORT_NGINX_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "loopback_exchange.h"
#include "subprocess.h"
#include "upcheck/status.h"

namespace upcheck::testing {

// A loopback TCP port that was free a moment ago (bound to port 0, then closed), for nginx
// to listen on: nginx cannot be told to pick one and say which.
int FreeLoopbackPort();

// GET http://127.0.0.1:port/path as HTTP/1.0, read to the close. Error: connect, a
// deadline, or no complete head.
Result<HttpReply> Get(int port, const std::string& path,
                      std::chrono::milliseconds deadline = std::chrono::seconds(5));

class NginxProcess {
 public:
  struct Options {
    int workers = 1;
    std::string log_level = "debug";  // error_log's level (or a debug_* mask)
  };
  // The line of nginx.conf that holds the first line of the http{} body.
  static constexpr int kFirstBodyLine = 8;

  NginxProcess() : NginxProcess(Options{}) {}
  explicit NginxProcess(Options options);
  ~NginxProcess();  // TERM, then KILL; removes the segments and the prefix
  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;

  static std::string Binary();
  static std::string ModulePath();  // "" when the environment does not name it
  const std::string& prefix() const { return prefix_; }
  std::string conf_path() const { return prefix_ + "/conf/nginx.conf"; }

  // Writes nginx.conf around `http_body` and runs `nginx -t` on it.
  ProcessResult Test(const std::string& http_body);
  // Writes nginx.conf and starts nginx; returns once the master's pid file and its
  // workers are there. Error: nginx's own words, or what did not appear in time.
  Status Start(const std::string& http_body);
  // Writes nginx.conf and sends HUP. Ok once a whole new set of workers runs; an error
  // carrying the master's [emerg] line if it refused the configuration (the old workers
  // then keep serving).
  Status Reload(const std::string& http_body);
  // QUIT, then waits for the master to exit (the workers finish their requests first).
  Status Stop();

  pid_t master_pid() const { return master_; }
  // The running workers (not those shutting down after a reload), from /proc.
  std::vector<pid_t> WorkerPids() const;
  bool MasterRunning() const;

  std::string ErrorLog() const;
  // Number of lines of the error log that match `regex` (ECMAScript, searched in the line).
  int CountLog(const std::string& regex) const;
  // Waits until CountLog(regex) >= count. False at the deadline.
  bool WaitForLog(const std::string& regex, int count = 1,
                  std::chrono::milliseconds deadline = std::chrono::seconds(20)) const;

 private:
  void WriteConf(const std::string& http_body);
  bool WaitForWorkers(const std::set<pid_t>& old, std::chrono::milliseconds deadline) const;
  bool WaitForExit(std::chrono::milliseconds deadline);
  void Kill();

  Options options_;
  std::string prefix_;
  pid_t master_ = -1;
  bool exited_ = false;
  std::set<std::string> segments_;  // every upcheck_shm name written
};

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_NGINX_PROCESS_H_
