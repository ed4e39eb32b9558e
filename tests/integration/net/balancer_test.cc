// Balancer on real loopback sockets with echo backends: peer choice from the worker's
// view, refusal, relaying both ways, half-close, backpressure, failed connects.
#include "balancer.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "loopback_http_server.h"
#include "net_test_util.h"

namespace upcheck {
namespace {

using testing::EchoServer;
using testing::LoopThread;
using testing::Millis;

// Sends `data` while reading, shuts down writing once all is sent, reads to EOF. Returns
// what came back, or nullopt at the deadline.
std::optional<std::string> Pump(int fd, std::string_view data, Millis timeout = Millis(30000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string got;
  bool shut = false;
  std::vector<char> buffer(65536);
  for (;;) {
    if (!shut && data.empty()) {
      ::shutdown(fd, SHUT_WR);
      shut = true;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (shut ? 0 : POLLOUT)), 0};
    const auto left =
        std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
    if ((p.revents & POLLOUT) != 0 && !shut) {
      ssize_t n = ::send(fd, data.data(), std::min<size_t>(data.size(), 65536),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) data.remove_prefix(static_cast<size_t>(n));
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n == 0) return got;
      if (n > 0) got.append(buffer.data(), static_cast<size_t>(n));
      if (n < 0 && errno != EAGAIN && errno != EINTR) return std::nullopt;
    }
  }
}

// The most the kernel may buffer for one TCP socket in each direction (the third field of
// tcp_rmem / tcp_wmem: autotuning grows a loopback socket up to it), 0 if unreadable.
size_t TcpBufferMax(const char* path) {
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return 0;
  unsigned long min = 0, def = 0, max = 0;
  int got = std::fscanf(f, "%lu %lu %lu", &min, &def, &max);
  std::fclose(f);
  return got == 3 ? max : 0;
}

std::string Pattern(size_t size) {
  std::string s(size, '\0');
  uint32_t x = 12345;
  for (char& c : s) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

// Polls `predicate` every 10 ms until it holds or the deadline passes.
template <typename F>
bool WaitFor(F predicate, Millis timeout = Millis(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(Millis(10));
  }
  return true;
}

class BalancerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    ASSERT_TRUE(loop_.Run([this] { balancer_.reset(); }));  // closes it
    EXPECT_EQ(loop_.Stop(), 0);
  }

  void Start(std::vector<std::string> primary, std::vector<std::string> backup = {},
             BalancerOptions options = {}) {
    std::vector<PeerConfig> p, b;
    for (auto& a : primary) p.push_back({a});
    for (auto& a : backup) b.push_back({a});
    ASSERT_TRUE(view_.AddUpstream("foo.com", p, b).ok());
    int fd = testing::ListenLoopback(&port_);
    ASSERT_GE(fd, 0);
    bool ok = false;
    ASSERT_TRUE(loop_.Run([&] {
      auto started = Balancer::Start(loop_.loop(), fd, &view_, "foo.com", &logger_, options);
      ok = started.ok();
      if (ok) balancer_ = std::move(*started);
    }));
    ASSERT_TRUE(ok);
  }
  void SetDown(bool backup, uint32_t id, bool down) {
    ASSERT_TRUE(
        loop_.Run([&] { ASSERT_TRUE(view_.SetPeerDown("foo.com", backup, id, down).ok()); }));
  }
  BalancerStats Stats() {
    BalancerStats s;
    EXPECT_TRUE(loop_.Run([&] { s = balancer_->stats(); }));
    return s;
  }
  // One connection that sends `message` and expects it back.
  bool RoundTrip(const std::string& message = "ping") {
    int fd = testing::ConnectLoopback(port_);
    if (fd < 0) return false;
    std::optional<std::string> got = Pump(fd, message);
    ::close(fd);
    return got == message;
  }
  std::vector<std::string> Logged() {
    std::lock_guard<std::mutex> lock(log_mutex_);
    return log_;
  }

  Upstreams view_;
  LoopThread loop_;
  std::unique_ptr<Balancer> balancer_;
  int port_ = 0;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
  Logger logger_ = Logger::ToCallback(
      [this](LogLevel, std::string_view m) {
        std::lock_guard<std::mutex> lock(log_mutex_);
        log_.emplace_back(m);
      },
      LogLevel::kInfo);
};

TEST_F(BalancerTest, OnlyUpPrimaryPeersArePicked) {
  EchoServer e0, e1, e2;
  ASSERT_TRUE(e0.ok() && e1.ok() && e2.ok());
  Start({e0.address(), e1.address(), e2.address()});
  SetDown(false, 1, true);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(RoundTrip()) << i;
  EXPECT_EQ(e0.connections(), 2);
  EXPECT_EQ(e1.connections(), 0);
  EXPECT_EQ(e2.connections(), 2);
}

TEST_F(BalancerTest, BackupsOnlyWhenEveryPrimaryIsDown) {
  EchoServer p0, p1, b0;
  ASSERT_TRUE(p0.ok() && p1.ok() && b0.ok());
  Start({p0.address(), p1.address()}, {b0.address()});
  SetDown(false, 0, true);
  ASSERT_TRUE(RoundTrip());
  EXPECT_EQ(p1.connections(), 1);
  EXPECT_EQ(b0.connections(), 0);
  SetDown(false, 1, true);
  ASSERT_TRUE(RoundTrip());
  ASSERT_TRUE(RoundTrip());
  EXPECT_EQ(b0.connections(), 2);
  SetDown(false, 0, false);
  ASSERT_TRUE(RoundTrip());
  EXPECT_EQ(p0.connections(), 1);
  EXPECT_EQ(b0.connections(), 2);
}

TEST_F(BalancerTest, ClientClosedAtOnceWhenNoPeerIsUp) {
  EchoServer p0, b0;
  Start({p0.address()}, {b0.address()});
  SetDown(false, 0, true);
  SetDown(true, 0, true);
  int fd = testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(testing::ClosedByPeer(fd));
  ::close(fd);
  EXPECT_EQ(Stats().refused, 1u);
  EXPECT_EQ(p0.connections() + b0.connections(), 0);
  ASSERT_FALSE(Logged().empty());
  EXPECT_EQ(Logged().back(), "balancer: no live peers in upstream \"foo.com\"");
}

TEST_F(BalancerTest, BytesBothWaysOverTcpAndUnixPeers) {
  EchoServer tcp, unix_peer(/*unix_socket=*/true);
  ASSERT_TRUE(tcp.ok() && unix_peer.ok());
  Start({tcp.address(), unix_peer.address()});
  ASSERT_TRUE(RoundTrip("hello over tcp"));
  ASSERT_TRUE(RoundTrip("hello over a unix socket"));
  EXPECT_EQ(tcp.connections(), 1);
  EXPECT_EQ(unix_peer.connections(), 1);
}

TEST_F(BalancerTest, HalfCloseStillDeliversTheRest) {
  EchoServer e;
  Start({e.address()});
  const std::string data = Pattern(1 << 20);
  int fd = testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  // Interactive first: the echo comes back while our side is open.
  ASSERT_TRUE(testing::SendAll(fd, "abc"));
  char got[3];
  ASSERT_EQ(::recv(fd, got, 3, MSG_WAITALL), 3);
  // Then the rest, and our FIN right after it; the answer still arrives whole.
  std::optional<std::string> rest = Pump(fd, data);
  ::close(fd);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->size(), data.size());
  EXPECT_TRUE(*rest == data);
}

TEST_F(BalancerTest, LargeTransferWithBackpressureIsIntact) {
  EchoServer e;
  Start({e.address()}, {}, {.max_queued_bytes = 64 * 1024});
  const std::string data = Pattern(8 << 20);
  int fd = testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  std::optional<std::string> got = Pump(fd, data, Millis(60000));
  ::close(fd);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size(), data.size());
  EXPECT_TRUE(*got == data);
  // A direction never holds much more than the limit plus one read.
  EXPECT_LE(Stats().peak_queued_bytes, 64u * 1024 + 64 * 1024);
}

TEST_F(BalancerTest, AClientThatDoesNotReadPausesTheRelay) {
  EchoServer e;
  Start({e.address()}, {}, {.max_queued_bytes = 64 * 1024});
  // More than every socket on the path can hold: client, balancer (both sides) and echo
  // server, each a receive and a send buffer that autotuning may grow to the sysctl maxima.
  const size_t path_bytes = 4 * (TcpBufferMax("/proc/sys/net/ipv4/tcp_rmem") +
                                 TcpBufferMax("/proc/sys/net/ipv4/tcp_wmem"));
  const std::string data = Pattern(std::max<size_t>(64 << 20, 2 * path_bytes));
  int fd = testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  // Write without reading until the whole path is full and writing stalls; without
  // backpressure the balancer would buffer all of it and we would never stall. Stalled:
  // the balancer has paused reading us, and our socket took nothing for 100 ms (a pause
  // alone, or a busy machine alone, is not enough).
  size_t sent = 0;
  for (;;) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 100) == 0 && Stats().read_pauses >= 1) break;
    ssize_t n = ::send(fd, data.data() + sent, std::min<size_t>(data.size() - sent, 65536),
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    ASSERT_TRUE(n > 0 || errno == EAGAIN) << errno;
    if (n > 0) sent += static_cast<size_t>(n);
    ASSERT_LT(sent, data.size()) << "never stalled";
  }
  const BalancerStats stats = Stats();
  EXPECT_GE(stats.read_pauses, 1u);
  EXPECT_LE(stats.peak_queued_bytes, 64u * 1024 + 64 * 1024);
  // Now read: everything sent comes back, in order.
  std::optional<std::string> got = Pump(fd, std::string_view(data).substr(sent), Millis(60000));
  ::close(fd);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), data.size());
  EXPECT_TRUE(*got == data);
}

TEST_F(BalancerTest, FailedConnectClosesTheClientAndNamesThePeer) {
  testing::LoopbackClosedPort closed;
  ASSERT_TRUE(closed.ok());
  Start({closed.address()});
  int fd = testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(testing::ClosedByPeer(fd));
  ::close(fd);
  EXPECT_EQ(Stats().connect_failures, 1u);
  std::vector<std::string> log = Logged();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0], "balancer: failed to connect to peer " + closed.address() +
                        " of upstream \"foo.com\": connection refused");
}

TEST_F(BalancerTest, ConnectTimeoutClosesTheClient) {
  testing::LoopbackUnresponsivePort hanging;
  ASSERT_TRUE(hanging.ok());
  Start({hanging.address()}, {}, {.connect_timeout_ms = 200});
  int fd = testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(testing::ClosedByPeer(fd));
  ::close(fd);
  std::vector<std::string> log = Logged();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0], "balancer: failed to connect to peer " + hanging.address() +
                        " of upstream \"foo.com\": timed out");
}

// Passive checks: each connection's outcome is reported once, by peer: an answer is a
// success, a refused connect and a reset from the peer are failures.
TEST_F(BalancerTest, ReportsEachConnectionsOutcomeOnce) {
  EchoServer echo;
  testing::LoopbackClosedPort closed;
  testing::LoopbackHttpServer::Options reset_options;
  reset_options.mode = testing::LoopbackHttpServer::Mode::kReset;
  testing::LoopbackHttpServer resets(reset_options);
  ASSERT_TRUE(echo.ok() && closed.ok() && resets.ok());
  std::mutex mutex;
  std::vector<std::pair<uint32_t, PassiveResult>> reports;
  BalancerOptions options;
  options.on_passive = [&](const PeerInfo& peer, PassiveResult result) {
    std::lock_guard<std::mutex> lock(mutex);
    reports.emplace_back(peer.id, result);
  };
  Start({echo.address(), closed.address(), resets.address()}, {}, options);
  for (int i = 0; i < 3; ++i) {  // round robin: one connection per peer
    int fd = testing::ConnectLoopback(port_);
    ASSERT_GE(fd, 0);
    (void)Pump(fd, "GET / HTTP/1.0\r\n\r\n");
    ::close(fd);
  }
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mutex);
    return reports.size() >= 3;
  }));
  ASSERT_TRUE(loop_.Run([] {}));  // anything still queued on the loop has run
  std::lock_guard<std::mutex> lock(mutex);
  std::sort(reports.begin(), reports.end());
  EXPECT_EQ(reports,
            (std::vector<std::pair<uint32_t, PassiveResult>>{{0, PassiveResult::kOk},
                                                             {1, PassiveResult::kConnectFailed},
                                                             {2, PassiveResult::kReset}}));
}

TEST_F(BalancerTest, CloseEndsOpenSessions) {
  EchoServer e;
  Start({e.address()});
  int fd = testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::SendAll(fd, "x"));
  char c;
  ASSERT_EQ(::recv(fd, &c, 1, MSG_WAITALL), 1);
  EXPECT_EQ(Stats().active, 1u);
  ASSERT_TRUE(loop_.Run([this] { balancer_->Close(); }));
  EXPECT_TRUE(testing::ClosedByPeer(fd));
  ::close(fd);
}

// A graceful stop: the listener goes, the session in flight keeps relaying, and on_idle
// runs once it ends, with the balancer still owned (and closable) by its holder.
TEST_F(BalancerTest, DrainLetsTheSessionInFlightFinish) {
  EchoServer e;
  Start({e.address()});
  int fd = testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::SendAll(fd, "x"));
  char c;
  ASSERT_EQ(::recv(fd, &c, 1, MSG_WAITALL), 1);
  std::atomic<int> idle{0};
  ASSERT_TRUE(loop_.Run([&] { balancer_->Drain([&] { ++idle; }); }));
  // The listener is closed once the loop has run its close callback.
  ASSERT_TRUE(loop_.Run([] {}));
  EXPECT_LT(testing::ConnectLoopback(port_), 0);
  EXPECT_EQ(idle.load(), 0);
  std::optional<std::string> rest = Pump(fd, "yz");
  ::close(fd);
  EXPECT_EQ(rest, "yz");
  ASSERT_TRUE(WaitFor([&] { return idle.load() == 1; }));
  EXPECT_EQ(Stats().active, 0u);
}

TEST_F(BalancerTest, CloseDuringADrainEndsTheSession) {
  EchoServer e;
  Start({e.address()});
  int fd = testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(testing::SendAll(fd, "x"));
  char c;
  ASSERT_EQ(::recv(fd, &c, 1, MSG_WAITALL), 1);
  bool idle = false;
  ASSERT_TRUE(loop_.Run([&] { balancer_->Drain([&] { idle = true; }); }));
  ASSERT_TRUE(loop_.Run([this] { balancer_->Close(); }));
  EXPECT_TRUE(testing::ClosedByPeer(fd));
  ::close(fd);
  ASSERT_TRUE(loop_.Run([] {}));
  EXPECT_FALSE(idle);  // Close() cancels it
}

}  // namespace
}  // namespace upcheck
