#include "probe/prober.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
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

class ProberTest : public ProberFixture {};

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
  auto tcp = ParseProbeTarget(closed.address());
  auto unix_socket = ParseProbeTarget("unix:/nonexistent/upcheck.sock");
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
  auto target = ParseProbeTarget(name);
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
  close(peer);
  close(listener);
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
  // The line is left out of the message (response bytes stay out of error logs).
  EXPECT_EQ(result.message, "bad status line from " + server.address());
  EXPECT_EQ(result.error, "HTTP/2 200");
  EXPECT_EQ(result.parse_error, "");
  EXPECT_FALSE(result.status.has_value());
}

TEST_F(ProberTest, EmptyLineIsABadStatusLineWithEmptyText) {
  LoopbackHttpServer server(Family::kV4, "\r\nHTTP/1.1 200 OK\r\n\r\n");
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}})), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kStatusLine);
  EXPECT_EQ(result.message, "bad status line from " + server.address());
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
  Prober* prober = MakeProber(HttpOptions({{200}}, 200));
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
  auto target = ParseProbeTarget(server.address());
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
  auto target = ParseProbeTarget(server.address());
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
  auto hanging = ParseProbeTarget(server.address());
  auto refused = ParseProbeTarget(closed.address());
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
  auto target = ParseProbeTarget(server.address());
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
  auto target = ParseProbeTarget(server.address());
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
