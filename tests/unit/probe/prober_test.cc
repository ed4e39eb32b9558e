#include "probe/prober.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loopback_http_server.h"
#include "probe/first_line.h"
#include "prober_fixture.h"

namespace upcheck {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Family;
using testing::LoopbackClosedPort;
using testing::LoopbackHttpServer;
using Mode = LoopbackHttpServer::Mode;

// A listener the test drives by hand, so that the order of what a prober sees is known:
// the test accepts, reads each request, answers, and closes its side or not.
class ManualListener {
 public:
  explicit ManualListener(Family family = Family::kV4) {
    int domain = family == Family::kV6 ? AF_INET6 : AF_INET;
    sockaddr_storage address{};
    socklen_t length = 0;
    if (domain == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&address);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      length = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&address);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      length = sizeof(*a);
    }
    fd_ = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return;
    }
    int port = ntohs(domain == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&address)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&address)->sin_port);
    name_ = (domain == AF_INET6 ? "[::1]:" : "127.0.0.1:") + std::to_string(port);
  }
  ~ManualListener() {
    for (int peer : peers_) close(peer);
    if (fd_ >= 0) close(fd_);
  }
  ManualListener(const ManualListener&) = delete;
  ManualListener& operator=(const ManualListener&) = delete;

  bool ok() const { return !name_.empty(); }
  const std::string& address() const { return name_; }

  // A connection whose request has arrived (the whole request, in one read), or -1 if
  // none has yet. Its descriptor is closed with this object.
  int TryTakeRequest() {
    if (pending_ < 0) {
      pending_ = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (pending_ < 0) return -1;
      peers_.push_back(pending_);
    }
    char buffer[512];
    ssize_t n = recv(pending_, buffer, sizeof(buffer), 0);
    if (n <= 0) return -1;
    last_request_.assign(buffer, static_cast<size_t>(n));
    int peer = pending_;
    pending_ = -1;
    return peer;
  }
  const std::string& last_request() const { return last_request_; }

 private:
  int fd_ = -1;
  int pending_ = -1;  // accepted, request not read yet
  std::string name_;
  std::string last_request_;
  std::vector<int> peers_;
};

constexpr char kOk[] = "HTTP/1.1 200 OK\r\n\r\n";

// Writes `answer` on `peer`; then closes the peer's side (FIN) if `close_side`.
void Answer(int peer, const std::string& answer, bool close_side) {
  EXPECT_EQ(write(peer, answer.data(), answer.size()), static_cast<ssize_t>(answer.size()));
  if (close_side) {
    EXPECT_EQ(shutdown(peer, SHUT_WR), 0);
  }
}

// What `peer` reads once the prober is done with the connection: "eof" (an orderly
// close), "reset", or what else happened.
std::string PeerSees(int peer) {
  int flags = fcntl(peer, F_GETFL);
  fcntl(peer, F_SETFL, flags & ~O_NONBLOCK);
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char buffer[64];
  ssize_t n = read(peer, buffer, sizeof(buffer));
  if (n == 0) return "eof";
  if (n > 0) return "data";
  return errno == ECONNRESET ? "reset" : std::strerror(errno);
}

// Whether probes run on EpollProbes (the probe_libuv suite runs them on Probe, which keeps
// no socket between probes).
bool EpollEngine() {
  const char* engine = std::getenv("UPCHECK_PROBE_ENGINE");
  return engine == nullptr || std::string_view(engine) != "libuv";
}

int OpenFds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      n += e->d_name[0] != '.' ? 1 : 0;
    }
    closedir(d);
  }
  return n - 1;  // the DIR's own
}

class ProberTest : public ProberFixture {
 protected:
  // Runs the loop until `listener` has a request, and returns its connection (-1 on a
  // timeout, with a test failure).
  int TakeRequest(ManualListener& listener) {
    int peer = -1;
    // The predicate runs more than once: it remembers what it took.
    EXPECT_TRUE(loop_.RunUntil([&] {
      if (peer < 0) peer = listener.TryTakeRequest();
      return peer >= 0;
    }));
    return peer;
  }

  // Probes `listener` once; its peer answers `answer`, closing its side if `close_side`.
  // Returns the result, and the peer's connection in `*peer`.
  ProbeResult ProbeManually(Prober* prober, ManualListener& listener, bool close_side, int* peer,
                            const std::string& answer = kOk) {
    auto target = ProbeTargetFor(listener.address());
    EXPECT_TRUE(target.ok());
    std::optional<ProbeResult> result;
    EXPECT_TRUE(prober->Start(*target, [&](ProbeResult r) { result = std::move(r); }).ok());
    *peer = TakeRequest(listener);
    if (*peer >= 0) {
      Answer(*peer, answer, close_side);
    }
    EXPECT_TRUE(loop_.RunUntil([&] { return result.has_value(); }));
    return result.value_or(ProbeResult{});
  }
};

TEST_F(ProberTest, OkSendsTheRequestVerbatimAndParsesTheStatus) {
  LoopbackHttpServer server(Family::kV4, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200, 302}})), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.message, "");
  EXPECT_EQ(result.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(result.status, 200);
  EXPECT_GE(result.duration_ms, 0);
  EXPECT_EQ(server.requests(), 1);
  EXPECT_EQ(server.last_request(), kRequest);
}

TEST_F(ProberTest, ConnectionRefused) {
  LoopbackClosedPort closed;
  ASSERT_TRUE(closed.ok());
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions()), closed.address());
  EXPECT_EQ(result.kind, ProbeKind::kConnect);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.error, "connection refused");
  EXPECT_EQ(result.message, "failed to connect to " + closed.address() + ": connection refused");
}

TEST_F(ProberTest, UnansweredConnectTimesOut) {
  testing::LoopbackUnresponsivePort port;
  ASSERT_TRUE(port.ok());
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}}, 100)), port.address());
  EXPECT_EQ(result.kind, ProbeKind::kConnect);
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.message, "failed to connect to " + port.address() + ": timeout");
}

TEST_F(ProberTest, FailingToCreateTheSocketIsReportedApart) {
  // Lower the descriptor limit to the lowest free descriptor: socket() gets EMFILE.
  LoopbackClosedPort closed;
  ASSERT_TRUE(closed.ok());
  Prober* prober = MakeProber(HttpOptions());
  auto tcp = ProbeTargetFor(closed.address());
  auto unix_socket = ProbeTargetFor("unix:/nonexistent/upcheck.sock");
  ASSERT_TRUE(tcp.ok() && unix_socket.ok());
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  int lowest_free = dup(0);
  ASSERT_GE(lowest_free, 0);
  close(lowest_free);
  rlimit lowered = saved;
  lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  std::vector<ProbeResult> results;
  results.reserve(2);
  Status tcp_started = prober->Start(*tcp, [&](const ProbeResult& r) { results.push_back(r); });
  Status unix_started =
      prober->Start(*unix_socket, [&](const ProbeResult& r) { results.push_back(r); });
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(tcp_started.ok() && unix_started.ok());
  EXPECT_TRUE(results.empty()) << "callbacks never run inside Start";
  ASSERT_TRUE(loop_.RunUntil([&] { return results.size() == 2; }));
  for (const ProbeResult& result : results) {
    EXPECT_EQ(result.kind, ProbeKind::kSocket);
    EXPECT_FALSE(result.counted());
    EXPECT_EQ(result.message, "failed to create stream socket: too many open files");
  }
}

TEST_F(ProberTest, HangingPeerTimesOutReadingTheStatusLine) {
  LoopbackHttpServer server({.mode = Mode::kHang});
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}}, 100)), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kReceive);
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.message, "failed to receive status line from " + server.address() + ": timeout");
  EXPECT_GE(result.duration_ms, 90);
  EXPECT_TRUE(server.WaitForRequests(1, seconds(5)));
}

TEST_F(ProberTest, SlowAnswerWithinTheTimeoutIsOk) {
  LoopbackHttpServer server({.delay = milliseconds(150)});
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}}, 3000)), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_GE(result.duration_ms, 140);
}

TEST_F(ProberTest, SlowAnswerPastTheTimeoutTimesOut) {
  LoopbackHttpServer server({.delay = milliseconds(2000)});
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}}, 100)), server.address());
  EXPECT_EQ(result.message, "failed to receive status line from " + server.address() + ": timeout");
}

// The timeout bounds each wait for bytes, as ngx_lua's, not the whole line: a line that
// trickles in for longer than the timeout, a byte at a time well within it, is read.
TEST_F(ProberTest, LineTricklingInLongerThanTheTimeoutIsOk) {
  LoopbackHttpServer server(
      {.mode = Mode::kTrickle, .response = "HTTP/1.1 200 OK\r\n\r\n", .delay = milliseconds(100)});
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}}, 1000)), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_GE(result.duration_ms, 1000) << "the line took longer than one timeout to arrive";
}

TEST_F(ProberTest, CloseBeforeLfIsClosed) {
  LoopbackHttpServer server({.mode = Mode::kCloseBeforeLf});
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}})), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kReceive);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.message, "failed to receive status line from " + server.address() + ": closed");
}

TEST_F(ProberTest, ResetIsReportedAsStrerror) {
  LoopbackHttpServer server({.mode = Mode::kReset});
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}})), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kReceive);
  EXPECT_EQ(result.message, "failed to receive status line from " + server.address() +
                                ": connection reset by peer");
}

// The epoll engine closes with an RST only once the peer has closed its side. A peer
// that answers and keeps its connection open must see an orderly close (EOF), never a
// reset: its application would log an error for every probe.
TEST_F(ProberTest, PeerThatKeepsItsSideOpenSeesAnOrderlyClose) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  std::string name = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  Prober* prober = MakeProber(HttpOptions({{200}}));
  auto target = ProbeTargetFor(name);
  ASSERT_TRUE(target.ok());
  std::optional<ProbeResult> result;
  ASSERT_TRUE(prober->Start(*target, [&](ProbeResult r) { result = std::move(r); }).ok());
  int peer = -1;
  char request[256];
  bool got_request = false;  // the predicate runs more than once: remember what it read
  ASSERT_TRUE(loop_.RunUntil([&] {
    if (peer < 0) peer = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (peer >= 0 && !got_request) {
      got_request = recv(peer, request, sizeof(request), MSG_DONTWAIT) > 0;
    }
    return got_request;
  }));
  const char answer[] = "HTTP/1.1 200 OK\r\n\r\n";
  ASSERT_EQ(write(peer, answer, sizeof(answer) - 1), static_cast<ssize_t>(sizeof(answer) - 1));
  ASSERT_TRUE(loop_.RunUntil([&] { return result.has_value(); }));
  EXPECT_TRUE(result->ok()) << result->message;
  int flags = fcntl(peer, F_GETFL);
  fcntl(peer, F_SETFL, flags & ~O_NONBLOCK);
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  errno = 0;
  EXPECT_EQ(read(peer, request, sizeof(request)), 0) << "not an EOF: " << std::strerror(errno);
  EXPECT_EQ(prober->idle_sockets(), 0u) << "a connection still open is never reused";
  close(peer);
  close(listener);
}

// ---- Socket reuse (EpollProbes, see epoll_probes.h) -----------------------------------
// On the libuv engine these tests run too, without the checks of the pool.

// A peer that has closed its side is reset (no TIME_WAIT on its side), and the socket,
// disconnected, serves the next probe: the ECONNRESET the disconnect left pending on it
// must not reach that probe's send.
TEST_F(ProberTest, PeerThatClosedItsSideIsResetAndTheSocketServesTheNextProbe) {
  ManualListener first, second;
  ASSERT_TRUE(first.ok() && second.ok());
  Prober* prober = MakeProber(HttpOptions({{200}}));
  int peer = -1;
  ProbeResult result = ProbeManually(prober, first, /*close_side=*/true, &peer);
  EXPECT_TRUE(result.ok()) << result.message;
  if (EpollEngine()) {
    EXPECT_EQ(PeerSees(peer), "reset");
    EXPECT_EQ(prober->idle_sockets(), 1u);
  }

  result = ProbeManually(prober, second, /*close_side=*/true, &peer);
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(second.last_request(), kRequest);
  if (EpollEngine()) {
    EXPECT_EQ(prober->sockets_reused(), 1u);
    EXPECT_EQ(prober->idle_sockets(), 1u);
    EXPECT_EQ(PeerSees(peer), "reset");
  }
}

// A pooled socket serves only targets of its own address family.
TEST_F(ProberTest, PooledSocketsServeOnlyTheirAddressFamily) {
  if (!testing::HasIpv6Loopback()) {
    GTEST_SKIP() << "no ::1 here";
  }
  ManualListener v6(Family::kV6), v4(Family::kV4);
  ASSERT_TRUE(v6.ok() && v4.ok());
  Prober* prober = MakeProber(HttpOptions({{200}}));
  int peer = -1;
  for (int round = 0; round < 2; ++round) {
    ProbeResult result = ProbeManually(prober, v6, /*close_side=*/true, &peer);
    EXPECT_TRUE(result.ok()) << "v6, round " << round << ": " << result.message;
    result = ProbeManually(prober, v4, /*close_side=*/true, &peer);
    EXPECT_TRUE(result.ok()) << "v4 after v6, round " << round << ": " << result.message;
  }
  if (EpollEngine()) {
    EXPECT_EQ(prober->idle_sockets(), 2u);    // one of each family
    EXPECT_EQ(prober->sockets_reused(), 2u);  // the second round's
  }
  LoopbackClosedPort closed6(Family::kV6);
  ASSERT_TRUE(closed6.ok());
  ProbeResult refused = ProbeOnce(prober, closed6.address());
  EXPECT_EQ(refused.message, "failed to connect to " + closed6.address() + ": connection refused");
}

// connect() on a reused socket fails as on a new one, with the same text; the socket is
// then closed, not pooled.
TEST_F(ProberTest, RefusedConnectOnAReusedSocketReadsAsOnAFreshOne) {
  LoopbackClosedPort closed;
  ManualListener listener;
  ASSERT_TRUE(closed.ok() && listener.ok());
  Prober* prober = MakeProber(HttpOptions({{200}}));
  ProbeResult fresh = ProbeOnce(prober, closed.address());
  int peer = -1;
  EXPECT_TRUE(ProbeManually(prober, listener, /*close_side=*/true, &peer).ok());
  ProbeResult reused = ProbeOnce(prober, closed.address());
  if (EpollEngine()) {
    EXPECT_EQ(prober->sockets_reused(), 1u);
    EXPECT_EQ(prober->idle_sockets(), 0u);
  }
  EXPECT_EQ(reused.kind, ProbeKind::kConnect);
  EXPECT_FALSE(reused.timed_out);
  EXPECT_EQ(reused.error, "connection refused");
  EXPECT_EQ(reused.message, fresh.message);
  EXPECT_EQ(reused.message, "failed to connect to " + closed.address() + ": connection refused");
  EXPECT_TRUE(ProbeManually(prober, listener, /*close_side=*/true, &peer).ok());
}

// Only a socket whose probe read a status line from a peer that then closed is pooled:
// errors, timeouts and half-read lines close it.
TEST_F(ProberTest, SocketsThatEndedBadlyAreClosedNotPooled) {
  LoopbackHttpServer hang({.mode = Mode::kHang});
  LoopbackHttpServer reset({.mode = Mode::kReset});
  LoopbackHttpServer cut({.mode = Mode::kCloseBeforeLf});
  ManualListener listener;
  ASSERT_TRUE(hang.ok() && reset.ok() && cut.ok() && listener.ok());
  // The hang must time out; the others must not, however loaded the machine: 2 s.
  Prober* prober = MakeProber(HttpOptions({{200}}, 2000));
  EXPECT_EQ(ProbeOnce(prober, hang.address()).error, "timeout");
  EXPECT_EQ(prober->idle_sockets(), 0u);
  EXPECT_EQ(ProbeOnce(prober, reset.address()).error, "connection reset by peer");
  EXPECT_EQ(prober->idle_sockets(), 0u);
  EXPECT_EQ(ProbeOnce(prober, cut.address()).error, "closed");
  EXPECT_EQ(prober->idle_sockets(), 0u);
  int peer = -1;
  ProbeResult half = ProbeManually(prober, listener, /*close_side=*/true, &peer, "HTTP/1.1 2");
  EXPECT_EQ(half.error, "closed");
  EXPECT_EQ(prober->idle_sockets(), 0u);
  EXPECT_EQ(prober->sockets_reused(), 0u);
}

// epoll reports a socket's state as of epoll_wait. A pooled socket reports EPOLLHUP
// (the disconnect wakes it); if a probe started earlier in the same batch took it, that
// report is stale and must not read as the new probe's peer closing its side, or its peer,
// which keeps its side open, would be reset.
//
// The order is forced: probes A, B and C are in flight, C's answer then A's (A's peer
// closes) are queued while the loop waits. C's callback answers B; A's socket is pooled,
// after B's answer is queued. The next batch holds B's answer, then A's socket (idle,
// EPOLLHUP); B's callback starts D, which takes A's socket, before that event is seen.
TEST_F(ProberTest, StaleEventOfAPooledSocketIsNotTheNextProbesAnswer) {
  ManualListener la, lb, lc, ld;
  ASSERT_TRUE(la.ok() && lb.ok() && lc.ok() && ld.ok());
  auto ta = ProbeTargetFor(la.address());
  auto tb = ProbeTargetFor(lb.address());
  auto tc = ProbeTargetFor(lc.address());
  auto td = ProbeTargetFor(ld.address());
  ASSERT_TRUE(ta.ok() && tb.ok() && tc.ok() && td.ok());
  Prober* prober = MakeProber(HttpOptions({{200}}));
  std::optional<ProbeResult> a, b, c, d;
  int pb = -1;
  size_t idle_before_d = 0;
  ASSERT_TRUE(prober->Start(*ta, [&](ProbeResult r) { a = std::move(r); }).ok());
  ASSERT_TRUE(
      prober
          ->Start(*tb,
                  [&](ProbeResult r) {
                    b = std::move(r);
                    idle_before_d = prober->idle_sockets();
                    EXPECT_TRUE(
                        prober->Start(*td, [&](ProbeResult r2) { d = std::move(r2); }).ok());
                  })
          .ok());
  ASSERT_TRUE(prober
                  ->Start(*tc,
                          [&](ProbeResult r) {
                            c = std::move(r);
                            Answer(pb, kOk, /*close_side=*/false);
                          })
                  .ok());
  int pa = TakeRequest(la);
  pb = TakeRequest(lb);
  int pc = TakeRequest(lc);
  ASSERT_TRUE(pa >= 0 && pb >= 0 && pc >= 0);
  // One turn of the loop takes the connects' wake-ups (EPOLLOUT, ignored), which would
  // otherwise keep the sockets' places in the ready list: A's before C's.
  uv_run(loop_.get(), UV_RUN_NOWAIT);
  Answer(pc, kOk, /*close_side=*/false);
  Answer(pa, kOk, /*close_side=*/true);
  ASSERT_TRUE(loop_.RunUntil([&] { return a && b && c; }));
  int pd = TakeRequest(ld);
  ASSERT_GE(pd, 0);
  Answer(pd, kOk, /*close_side=*/false);
  ASSERT_TRUE(loop_.RunUntil([&] { return d.has_value(); }));
  EXPECT_TRUE(a->ok() && b->ok() && c->ok() && d->ok()) << d->message;
  if (EpollEngine()) {
    EXPECT_EQ(idle_before_d, 1u) << "A's socket, pooled";
    EXPECT_EQ(prober->sockets_reused(), 1u) << "D took it";
  }
  EXPECT_EQ(PeerSees(pb), "eof");
  EXPECT_EQ(PeerSees(pd), "eof") << "D's peer keeps its side open";
}

// The pool holds no more sockets than probes were in flight at once, Shutdown() closes
// them, and an idle prober with pooled sockets does not keep the loop alive.
TEST_F(ProberTest, PooledSocketsKeepDescriptorsFlatAndCloseAtShutdown) {
  ManualListener listener;
  ASSERT_TRUE(listener.ok());
  auto target = ProbeTargetFor(listener.address());
  ASSERT_TRUE(target.ok());
  auto created = Prober::Create(loop_.get(), HttpOptions({{200}}));
  ASSERT_TRUE(created.ok());
  std::unique_ptr<Prober> prober = std::move(created).value();
  const int before = OpenFds();
  constexpr int kInFlight = 4;
  std::vector<int> fds_after_round;
  for (int round = 0; round < 3; ++round) {
    int done = 0;
    for (int i = 0; i < kInFlight; ++i) {
      ASSERT_TRUE(prober
                      ->Start(*target,
                              [&](const ProbeResult& r) {
                                EXPECT_TRUE(r.ok()) << r.message;
                                ++done;
                              })
                      .ok());
    }
    for (int i = 0; i < kInFlight; ++i) {
      int peer = TakeRequest(listener);
      ASSERT_GE(peer, 0);
      Answer(peer, kOk, /*close_side=*/true);
    }
    ASSERT_TRUE(loop_.RunUntil([&] { return done == kInFlight; }));
    EXPECT_TRUE(loop_.Drain(seconds(2))) << "an idle prober keeps the loop alive";
    fds_after_round.push_back(OpenFds() - (round + 1) * kInFlight);  // less the peers
  }
  EXPECT_EQ(fds_after_round[1], fds_after_round[0]);
  EXPECT_EQ(fds_after_round[2], fds_after_round[0]);
  if (EpollEngine()) {
    EXPECT_EQ(prober->idle_sockets(), static_cast<size_t>(kInFlight));
    EXPECT_EQ(prober->sockets_reused(), 2u * kInFlight);
    EXPECT_EQ(fds_after_round[0], before + 1 + kInFlight);  // the epoll set, the pool
  }
  prober.reset();
  EXPECT_TRUE(loop_.Drain());
  if (EpollEngine()) {  // (libuv opens a descriptor of its own on the first probe)
    EXPECT_EQ(OpenFds(), before + 3 * kInFlight) << "only the peers' connections are left";
  }
}

TEST_F(ProberTest, BadStatusCode) {
  LoopbackHttpServer server(Family::kV4, "HTTP/1.1 404 Not Found\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}})), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kStatusCode);
  EXPECT_EQ(result.message, "bad status code from " + server.address() + ": 404");
  EXPECT_EQ(result.error, "404");
  EXPECT_EQ(result.status, 404);
  EXPECT_EQ(result.status_line, "HTTP/1.1 404 Not Found");
}

TEST_F(ProberTest, EmptyValidStatusesRejectEveryStatus) {
  LoopbackHttpServer server(Family::kV4, "HTTP/1.1 200 OK\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions(std::vector<double>{})), server.address());
  EXPECT_EQ(result.message, "bad status code from " + server.address() + ": 200");
}

TEST_F(ProberTest, HugeStatusIsPrintedLikeLua) {
  LoopbackHttpServer server(Family::kV4, "HTTP/1.1 99999999999999999999 X\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}})), server.address());
  EXPECT_EQ(result.message, "bad status code from " + server.address() + ": 1e+20");
}

TEST_F(ProberTest, LeadingZerosAreDropped) {
  LoopbackHttpServer server(Family::kV4, "HTTP/1.0 0200 OK\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}})), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.status, 200);
}

TEST_F(ProberTest, BadStatusLine) {
  LoopbackHttpServer server(Family::kV4, "HTTP/2 200\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}})), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kStatusLine);
  EXPECT_EQ(result.message, "bad status line from " + server.address() + ": HTTP/2 200");
  EXPECT_EQ(result.error, "HTTP/2 200");
  EXPECT_EQ(result.parse_error, "");
  EXPECT_FALSE(result.status.has_value());
}

TEST_F(ProberTest, EmptyLineIsABadStatusLineWithEmptyText) {
  LoopbackHttpServer server(Family::kV4, "\r\nHTTP/1.1 200 OK\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}})), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kStatusLine);
  EXPECT_EQ(result.message, "bad status line from " + server.address() + ": ");
  EXPECT_EQ(result.error, "");
}

TEST_F(ProberTest, WithoutStatusCheckAnyLineIsOk) {
  Prober* prober = MakeProber(HttpOptions(std::nullopt));
  for (const char* response : {"\r\n", "<html>\n", "HTTP/1.1 500 Oops\r\n\r\n"}) {
    LoopbackHttpServer server(Family::kV4, response);
    ASSERT_TRUE(server.ok()) << server.error();
    ProbeResult result = ProbeOnce(prober, server.address());
    EXPECT_TRUE(result.ok()) << response << ": " << result.message;
  }
}

TEST_F(ProberTest, WithoutStatusCheckTheStatusIsStillReported) {
  LoopbackHttpServer server(Family::kV4, "HTTP/1.1 503 Busy\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions()), server.address());
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.status, 503);
}

TEST_F(ProberTest, EveryCrInTheLineIsRemoved) {
  LoopbackHttpServer server(Family::kV4, "HT\rTP/1.1 2\r00 O\r\rK\r\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}})), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.status_line, "HTTP/1.1 200 OK");
}

TEST_F(ProberTest, LineSplitAcrossReadsIsJoined) {
  // A line longer than the probe's read buffer arrives in several reads.
  std::string reason(20000, 'x');
  LoopbackHttpServer server(Family::kV4, "HTTP/1.1 200 " + reason + "\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}})), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.status_line, "HTTP/1.1 200 " + reason);
}

TEST_F(ProberTest, OverlongLineIsAReceiveError) {
  LoopbackHttpServer server(Family::kV4, std::string(kMaxFirstLineBytes + 1, 'A') + "\n");
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions()), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kReceive);
  EXPECT_EQ(result.message,
            "failed to receive status line from " + server.address() + ": status line too long");
}

TEST_F(ProberTest, UnixSocket) {
  LoopbackHttpServer server(Family::kUnix, "HTTP/1.1 200 OK\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}})), server.address(), 8080);
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(server.last_request(), kRequest);
}

TEST_F(ProberTest, MissingUnixSocket) {
  ProbeResult result =
      ProbeOnce(MakeProber(HttpOptions()), "unix:/nonexistent/upcheck-probe-test.sock");
  EXPECT_EQ(result.kind, ProbeKind::kConnect);
  EXPECT_EQ(result.message,
            "failed to connect to unix:/nonexistent/upcheck-probe-test.sock: no such file or "
            "directory");
}

TEST_F(ProberTest, Ipv6) {
  if (!testing::HasIpv6Loopback()) {
    GTEST_SKIP() << "no ::1 here";
  }
  LoopbackHttpServer server(Family::kV6, "HTTP/1.1 200 OK\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  EXPECT_EQ(server.address(), "[::1]:" + std::to_string(server.port()));
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}})), server.address());
  EXPECT_TRUE(result.ok()) << result.message;

  LoopbackClosedPort closed(Family::kV6);
  ASSERT_TRUE(closed.ok());
  result = ProbeOnce(MakeProber(HttpOptions()), closed.address());
  EXPECT_EQ(result.message, "failed to connect to " + closed.address() + ": connection refused");
}

TEST_F(ProberTest, PortOverrideProbesThatPortButNamesThePeer) {
  LoopbackHttpServer server(Family::kV4, "HTTP/1.1 404 Nope\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  LoopbackClosedPort closed;
  ASSERT_TRUE(closed.ok());
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}})), closed.address(), server.port());
  EXPECT_EQ(result.message, "bad status code from " + closed.address() + ": 404");
  EXPECT_EQ(server.requests(), 1);

  result = ProbeOnce(MakeProber(HttpOptions()), server.address(), closed.port());
  EXPECT_EQ(result.message, "failed to connect to " + server.address() + ": connection refused");
}

TEST_F(ProberTest, ScriptedStatusesFollowTheScript) {
  LoopbackHttpServer server({.response = testing::StatusResponse(500),
                             .script = {testing::StatusResponse(403), testing::StatusResponse(403),
                                        testing::StatusResponse(200)}});
  ASSERT_TRUE(server.ok()) << server.error();
  Prober* prober = MakeProber(HttpOptions({{200}}));
  std::vector<std::string> errors;
  errors.reserve(4);
  for (int i = 0; i < 4; ++i) {
    errors.push_back(ProbeOnce(prober, server.address()).error);
  }
  EXPECT_EQ(errors, (std::vector<std::string>{"403", "403", "", "500"}));
}

TEST_F(ProberTest, ServerChangesAreSeenByLaterProbes) {
  LoopbackHttpServer server(Family::kV4, "HTTP/1.1 200 OK\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  // The hang must time out; the answers must not, however loaded the machine: 2 s.
  Prober* prober = MakeProber(HttpOptions({{200}}, 2000));
  EXPECT_TRUE(ProbeOnce(prober, server.address()).ok());
  server.SetResponse(testing::StatusResponse(502));
  EXPECT_EQ(ProbeOnce(prober, server.address()).error, "502");
  server.SetMode(Mode::kHang);
  EXPECT_EQ(ProbeOnce(prober, server.address()).error, "timeout");
  server.SetMode(Mode::kRespond);
  server.SetResponse("HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_TRUE(ProbeOnce(prober, server.address()).ok());
}

TEST_F(ProberTest, ManyConcurrentProbes) {
  LoopbackHttpServer server(Family::kV4, "HTTP/1.1 200 OK\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  Prober* prober = MakeProber(HttpOptions({{200}}));
  auto target = ProbeTargetFor(server.address());
  ASSERT_TRUE(target.ok());
  constexpr int kProbes = 200;
  int ok = 0;
  int done = 0;
  for (int i = 0; i < kProbes; ++i) {
    ASSERT_TRUE(prober
                    ->Start(*target,
                            [&](const ProbeResult& r) {
                              ++done;
                              ok += r.ok() ? 1 : 0;
                            })
                    .ok());
  }
  EXPECT_EQ(prober->in_flight(), static_cast<size_t>(kProbes));
  EXPECT_TRUE(loop_.RunUntil([&] { return done == kProbes; }, seconds(30)));
  EXPECT_EQ(ok, kProbes);
  EXPECT_EQ(server.requests(), kProbes);
}

TEST_F(ProberTest, CallbackMayStartTheNextProbe) {
  LoopbackHttpServer server(Family::kV4, "HTTP/1.1 200 OK\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  Prober* prober = MakeProber(HttpOptions({{200}}));
  auto target = ProbeTargetFor(server.address());
  ASSERT_TRUE(target.ok());
  int remaining = 5;
  std::function<void(ProbeResult)> next = [&](const ProbeResult& r) {
    EXPECT_TRUE(r.ok()) << r.message;
    if (--remaining > 0) {
      EXPECT_TRUE(prober->Start(*target, next).ok());
    }
  };
  ASSERT_TRUE(prober->Start(*target, next).ok());
  EXPECT_TRUE(loop_.RunUntil([&] { return remaining == 0; }));
  EXPECT_EQ(server.requests(), 5);
}

TEST_F(ProberTest, CallbackMayDestroyTheProber) {
  LoopbackHttpServer server({.mode = Mode::kHang});
  ASSERT_TRUE(server.ok()) << server.error();
  LoopbackClosedPort closed;
  auto created = Prober::Create(loop_.get(), HttpOptions({{200}}, 30000));
  ASSERT_TRUE(created.ok());
  std::unique_ptr<Prober> prober = std::move(created).value();
  auto hanging = ProbeTargetFor(server.address());
  auto refused = ProbeTargetFor(closed.address());
  int hanging_calls = 0;
  bool refused_called = false;
  ASSERT_TRUE(prober->Start(*hanging, [&](const ProbeResult&) { ++hanging_calls; }).ok());
  ASSERT_TRUE(prober
                  ->Start(*refused,
                          [&](const ProbeResult&) {
                            refused_called = true;
                            prober.reset();  // aborts the hanging probe
                          })
                  .ok());
  EXPECT_TRUE(loop_.RunUntil([&] { return refused_called; }));
  EXPECT_TRUE(loop_.Drain());
  EXPECT_EQ(hanging_calls, 0);
}

TEST_F(ProberTest, ShutdownAbortsProbesInFlightWithoutCallbacks) {
  LoopbackHttpServer server({.mode = Mode::kHang});
  ASSERT_TRUE(server.ok()) << server.error();
  Prober* prober = MakeProber(HttpOptions({{200}}, 30000));
  auto target = ProbeTargetFor(server.address());
  ASSERT_TRUE(target.ok());
  int calls = 0;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(prober->Start(*target, [&](const ProbeResult&) { ++calls; }).ok());
  }
  EXPECT_TRUE(loop_.RunUntil([&] { return server.requests() == 5; }));
  prober->Shutdown();
  EXPECT_EQ(prober->in_flight(), 0u);
  EXPECT_EQ(prober->Start(*target, [&](const ProbeResult&) { ++calls; }).message(),
            "prober is shut down");
  EXPECT_TRUE(loop_.Drain());
  EXPECT_EQ(calls, 0);
}

TEST_F(ProberTest, ShutdownRightAfterStart) {
  LoopbackHttpServer server(Family::kV4, "HTTP/1.1 200 OK\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  Prober* prober = MakeProber(HttpOptions());
  auto target = ProbeTargetFor(server.address());
  int calls = 0;
  ASSERT_TRUE(prober->Start(*target, [&](const ProbeResult&) { ++calls; }).ok());
  prober->Shutdown();
  EXPECT_TRUE(loop_.Drain());
  EXPECT_EQ(calls, 0);
}

TEST_F(ProberTest, NegativeTimeoutIsRejected) {
  ProbeOptions options = HttpOptions();
  options.timeout_ms = -1;
  auto prober = Prober::Create(loop_.get(), options);
  ASSERT_FALSE(prober.ok());
  EXPECT_EQ(prober.error(), "bad timeout value");
}

TEST_F(ProberTest, ZeroTimeoutMeansNginxsSixtySeconds) {
  ProbeOptions options = HttpOptions();
  options.timeout_ms = 0;
  EXPECT_EQ(EffectiveTimeoutMs(options), 60000u);
  options.timeout_ms = 250;
  EXPECT_EQ(EffectiveTimeoutMs(options), 250u);
}

}  // namespace
}  // namespace upcheck
