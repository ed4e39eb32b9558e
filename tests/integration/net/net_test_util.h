// Helpers for the network service tests: a libuv loop on its own thread, loopback
// listening sockets, blocking clients with deadlines, and a threaded echo backend.
#ifndef UPCHECK_TESTS_INTEGRATION_NET_NET_TEST_UTIL_H_
#define UPCHECK_TESTS_INTEGRATION_NET_NET_TEST_UTIL_H_

#include <uv.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace upcheck::testing {

using Millis = std::chrono::milliseconds;

// A loop run by a thread of its own. Run() executes a function on that thread and waits
// for it; Stop() ends the thread once every other handle is closed and returns
// uv_loop_close()'s result.
class LoopThread {
 public:
  LoopThread();
  ~LoopThread();
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  uv_loop_t* loop() { return &loop_; }
  // False if `fn` did not run within the deadline.
  bool Run(std::function<void()> fn, Millis timeout = Millis(10000));
  int Stop();

 private:
  static void OnAsync(uv_async_t* async);
  uv_loop_t loop_;
  uv_async_t async_;
  std::mutex mutex_;
  std::list<std::function<void()>> queue_;  // GUARDED_BY(mutex_)
  std::thread thread_;
  bool stopped_ = false;
};

// A TCP socket bound to 127.0.0.1:0 and listening; *port gets the port. -1 on error.
int ListenLoopback(int* port);
// A blocking client connected to 127.0.0.1:port, or -1.
int ConnectLoopback(int port);
// Sends everything, or false at the deadline or on error.
bool SendAll(int fd, std::string_view data, Millis timeout = Millis(10000));
// Reads until EOF; nullopt at the deadline or on error (a reset after data still returns
// what came before it when `tolerate_reset`).
std::optional<std::string> ReadToEof(int fd, Millis timeout = Millis(10000),
                                     bool tolerate_reset = false);
// Whether the peer closes `fd` (EOF or reset) before the deadline, reading nothing.
bool ClosedByPeer(int fd, Millis timeout = Millis(5000));
// One request on a fresh connection; the whole answer (head and body).
std::optional<std::string> HttpExchange(int port, std::string_view request);

struct HttpAnswer {
  int status = 0;
  std::string head;  // status line and headers, without the blank line
  std::string body;
  std::string Header(std::string_view name) const;  // "" when absent
};
std::optional<HttpAnswer> ParseAnswer(const std::string& raw);

// An echo backend on 127.0.0.1 (port 0) or a unix socket: each connection gets a thread
// that writes back what it reads; at the client's EOF it shuts down writing and closes.
class EchoServer {
 public:
  explicit EchoServer(bool unix_socket = false);
  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  bool ok() const { return listen_fd_ >= 0; }
  std::string address() const;  // "127.0.0.1:P" or "unix:/path"
  int connections() const { return connections_.load(); }
  bool WaitForConnections(int n, Millis timeout) const;

 private:
  void AcceptLoop();
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::string dir_, path_;
  std::atomic<int> connections_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::list<std::thread> threads_;  // GUARDED_BY(mutex_)
  std::list<int> fds_;              // GUARDED_BY(mutex_)
  std::thread accept_thread_;
};

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_INTEGRATION_NET_NET_TEST_UTIL_H_
