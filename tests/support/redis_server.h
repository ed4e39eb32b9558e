// RedisServer: Debian's redis-server ($REDIS_SERVER, else /usr/bin/redis-server) on a
// loopback port of its own, without persistence, for the fleet tests (DESIGN §11).
// Start() returns once PING answers (polled with a deadline); the destructor kills it.
// Stop()/Restart() keep the port, Pause()/Resume() freeze it with SIGSTOP/SIGCONT.
// Use from the test's thread only; the fixture's own commands block (hiredis, sync).
#ifndef UPCHECK_TESTS_SUPPORT_REDIS_SERVER_H_
#define UPCHECK_TESTS_SUPPORT_REDIS_SERVER_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "upcheck/status.h"

namespace upcheck::testing {

class RedisServer {
 public:
  struct Options {
    std::optional<std::string> password;  // --requirepass
  };
  RedisServer() : RedisServer(Options{}) {}
  explicit RedisServer(Options options);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts redis-server on a free loopback port (the same one again after Stop()).
  Status Start();
  // SIGTERM, then SIGKILL after a deadline; reaps it. The port is kept for Restart().
  void Stop();
  // Stop() then Start(): an empty redis on the same port.
  Status Restart();
  void Pause();   // SIGSTOP: connections are accepted by the kernel, nothing answers
  void Resume();  // SIGCONT
  Status FlushAll();
  // One command over a fresh blocking connection (authenticating first when a password
  // is set): the reply as text ("OK", "1", "(nil)"), or its error ("WRONGTYPE ...").
  Result<std::string> Run(const std::vector<std::string>& args);

  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:<port>"
  bool running() const { return pid_ > 0; }

 private:
  Status WaitForPing();

  Options options_;
  std::string dir_;  // its working directory and log
  int port_ = 0;
  pid_t pid_ = -1;
  bool paused_ = false;
};

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_REDIS_SERVER_H_
