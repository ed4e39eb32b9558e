// LoopbackHttpServer: a tiny HTTP (or HTTPS) backend on loopback, for probe and checker
// tests.
//
// It listens on 127.0.0.1, ::1 (port 0: the kernel picks) or a unix socket in a fresh
// temporary directory, and answers each connection from a thread of its own with a fixed,
// scripted or changeable response. Every method is thread-safe; Set*() affects the
// connections accepted afterwards. The destructor stops the server and joins its threads.
//
//   LoopbackHttpServer server(Family::kV4, "HTTP/1.1 200 OK\r\n\r\n");
//   ASSERT_TRUE(server.ok()) << server.error();
//   ... probe server.address() ...       // "127.0.0.1:PORT", "[::1]:PORT", "unix:/..."
//   EXPECT_TRUE(server.WaitForRequests(1, std::chrono::seconds(5)));
#ifndef UPCHECK_TESTS_SUPPORT_LOOPBACK_HTTP_SERVER_H_
#define UPCHECK_TESTS_SUPPORT_LOOPBACK_HTTP_SERVER_H_

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace upcheck::testing {

enum class Family : uint8_t { kV4, kV6, kUnix };

// Whether ::1 can be bound here (tests of IPv6 skip themselves otherwise).
bool HasIpv6Loopback();

// "HTTP/1.1 <status> Test\r\nContent-Length: 0\r\n\r\n".
std::string StatusResponse(int status);

class LoopbackHttpServer {
 public:
  enum class Mode : uint8_t {
    kRespond,          // read the request, (wait `delay`), write the response, close
    kHang,             // read the request, then never answer: hold the connection open
    kCloseBeforeLf,    // read the request, write the response up to its first LF, close
    kCloseAtAccept,    // close each connection at once, reading nothing
    kReset,            // read the request, then reset the connection (RST)
    kResetMidLine,     // read the request, write half the response's first line, then RST
    kTrickle,          // read the request, write the response a byte per `delay`, close
    kHangMidResponse,  // read the request, write the first half of the response, then
                       // never write more: hold the connection open
  };

  struct Options {
    Family family = Family::kV4;
    Mode mode = Mode::kRespond;
    std::string response = "HTTP/1.1 200 OK\r\n\r\n";
    // Responses for connections 0, 1, 2, ... in accept order, answered as kRespond does
    // whatever `mode` is; `mode` and `response` apply after the last.
    std::vector<std::string> script{};
    std::chrono::milliseconds delay{0};  // before answering (kRespond, kCloseBeforeLf);
                                         // between bytes (kTrickle)
    // The request ends with this; empty: the first bytes received are the request.
    std::string request_end = "\r\n\r\n";
    // Serve TLS with this certificate and key (PEM files, e.g. TlsTestCert's); empty:
    // plain HTTP. A failed handshake closes the connection and counts in
    // handshake_failures().
    std::string tls_cert_file{};
    std::string tls_key_file{};
    // TLS only: demand a client certificate that this PEM file verifies; pick the first of
    // the client's ALPN protocols that is in tls_alpn (none: no ALPN answered); serve at
    // most this TLS1_x_VERSION (0: any). Empty or 0: as plain a TLS server as above.
    std::string tls_client_ca_file{};
    std::vector<std::string> tls_alpn{};
    int tls_max_version = 0;
  };

  explicit LoopbackHttpServer(Family family = Family::kV4,
                              std::string response = "HTTP/1.1 200 OK\r\n\r\n");
  explicit LoopbackHttpServer(Options options);
  ~LoopbackHttpServer();
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  // Whether the server is listening; error() says why not.
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  int port() const { return port_; }                 // 0 for a unix socket
  const std::string& path() const { return path_; }  // the unix socket path
  std::string host() const;                          // "127.0.0.1", "::1" or ""
  // The peer name the original would use: "127.0.0.1:P", "[::1]:P" or "unix:/path".
  std::string address() const;

  int connections() const;  // accepted so far
  int requests() const;     // complete requests read so far
  int handshake_failures() const;
  std::string last_request() const;
  // Wait, with a deadline, until the counters reach `n`. True if they did.
  bool WaitForConnections(int n, std::chrono::milliseconds timeout) const;
  bool WaitForRequests(int n, std::chrono::milliseconds timeout) const;

  void SetMode(Mode mode);
  void SetResponse(std::string response);
  void SetScript(std::vector<std::string> script);  // restarts at the next connection
  void SetDelay(std::chrono::milliseconds delay);

  // Closes the listener, wakes and closes every connection, joins the threads. Idempotent.
  void Stop();

 private:
  struct Connection {
    int fd = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  struct Plan {
    Mode mode;
    std::string response;
    std::chrono::milliseconds delay;
  };

  bool Listen();
  bool SetUpTls();
  bool SetUpTlsExtras();
  static int SelectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                        const unsigned char* in, unsigned int inlen, void* arg);
  void AcceptLoop();
  void Serve(Connection* connection, const Plan& plan);
  void ReapLocked();
  bool WaitFor(const std::atomic<int>& counter, int n, std::chrono::milliseconds timeout) const;
  // Sleeps until `deadline` or Stop(). True if not stopped.
  bool SleepUntil(std::chrono::steady_clock::time_point deadline);

  Options options_;
  std::string error_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::string dir_;
  std::string path_;
  SSL_CTX* tls_ = nullptr;
  std::thread accept_thread_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  bool stopping_ = false;                   // GUARDED_BY(mutex_)
  size_t script_next_ = 0;                  // GUARDED_BY(mutex_)
  std::string last_request_;                // GUARDED_BY(mutex_)
  std::list<Connection> connections_list_;  // GUARDED_BY(mutex_)
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::atomic<int> handshake_failures_{0};
};

// A loopback TCP port that refuses connections for as long as this object lives: a
// socket bound to it but not listening holds the port, so nothing else can take it.
class LoopbackClosedPort {
 public:
  explicit LoopbackClosedPort(Family family = Family::kV4);
  ~LoopbackClosedPort();
  LoopbackClosedPort(const LoopbackClosedPort&) = delete;
  LoopbackClosedPort& operator=(const LoopbackClosedPort&) = delete;

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:P" or "[::1]:P"

 private:
  Family family_;
  int fd_ = -1;
  int port_ = 0;
};

// A loopback TCP port whose connects hang: it listens with a backlog of 0 and its accept
// queue is kept full by a connection of its own that is never accepted, so the kernel
// drops further SYNs. Probes of it time out in the connect step.
class LoopbackUnresponsivePort {
 public:
  explicit LoopbackUnresponsivePort(Family family = Family::kV4);
  ~LoopbackUnresponsivePort();
  LoopbackUnresponsivePort(const LoopbackUnresponsivePort&) = delete;
  LoopbackUnresponsivePort& operator=(const LoopbackUnresponsivePort&) = delete;

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:P" or "[::1]:P"

 private:
  Family family_;
  int listen_fd_ = -1;
  int filler_fd_ = -1;
  int port_ = 0;
};

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_LOOPBACK_HTTP_SERVER_H_
