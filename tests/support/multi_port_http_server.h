// MultiPortHttpServer: thousands of loopback HTTP backends served by one epoll thread, for
// load tests (LoopbackHttpServer takes a thread per connection and does not scale to
// 10,000 ports).
//
// It listens on `count` ports of 127.0.0.1, each bound to port 0 (the kernel picks), and
// answers every connection, once its request has been read (up to "\r\n\r\n"), with
// "HTTP/1.0 <status> ..." where status_of(index, now) gives the status for port `index`
// at that instant; then it closes the connection. status_of runs on the server's thread.
// Every method is thread-safe; the destructor stops the thread and closes every socket.
// The caller raises RLIMIT_NOFILE first: one descriptor per port, plus one per connection.
#ifndef UPCHECK_TESTS_SUPPORT_MULTI_PORT_HTTP_SERVER_H_
#define UPCHECK_TESTS_SUPPORT_MULTI_PORT_HTTP_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace upcheck::testing {

class MultiPortHttpServer {
 public:
  using StatusFn = std::function<int(size_t index, std::chrono::steady_clock::time_point now)>;

  MultiPortHttpServer(size_t count, StatusFn status_of);
  ~MultiPortHttpServer();
  MultiPortHttpServer(const MultiPortHttpServer&) = delete;
  MultiPortHttpServer& operator=(const MultiPortHttpServer&) = delete;

  // Whether every port is listening; error() says why not.
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  size_t size() const { return ports_.size(); }
  int port(size_t index) const { return ports_[index]; }
  std::string address(size_t index) const;  // "127.0.0.1:PORT"

  uint64_t answered() const { return answered_.load(std::memory_order_relaxed); }
  // Connections closed without an answer (EOF or an error before a whole request) and
  // failed accepts: a healthy run has none.
  uint64_t faults() const { return faults_.load(std::memory_order_relaxed); }

  // Stops the thread and closes every socket. Idempotent.
  void Stop();

 private:
  struct Conn {
    uint32_t port_index = 0;  // the port's index + 1; 0: no connection on this descriptor
    std::string request;
  };
  void Loop();
  void Accept(uint32_t index);
  void Serve(int fd);
  void Close(int fd);

  StatusFn status_of_;
  std::string error_;
  std::vector<int> listen_fds_;
  std::vector<int> ports_;
  std::vector<Conn> conns_;  // by descriptor; the server thread's only
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd: Stop() wakes the thread with it
  std::thread thread_;
  std::atomic<uint64_t> answered_{0};
  std::atomic<uint64_t> faults_{0};
};

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_MULTI_PORT_HTTP_SERVER_H_
