// upcheckd's TCP balancer end to end: only up peers are picked, backups only when every
// primary is down, and a client is closed at once when no peer is up.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>

#include "daemon_process.h"
#include "loopback_http_server.h"
#include "slow_tool.h"
#include "test_names.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

using std::chrono::seconds;

std::string Named(const std::string& body) {
  return "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Sends a request through the balancer; returns what came back before the close ("" when
// the balancer closed the connection without a byte).
std::string Through(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5 * SlowToolFactor(), 0};  // stretched under valgrind
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string got;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0) {
    std::string request = "GET / HTTP/1.0\r\n\r\n";
    (void)!write(fd, request.data(), request.size());
    char buf[1024];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  size_t body = got.find("\r\n\r\n");
  return body == std::string::npos ? got : got.substr(body + 4);
}

TEST(DaemonBalancerTest, PicksUpPeersThenBackupsThenRefuses) {
  ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
  LoopbackHttpServer a(Family::kV4, Named("A"));
  LoopbackHttpServer b(Family::kV4, Named("B"));
  LoopbackHttpServer backup(Family::kV4, Named("C"));
  LoopbackClosedPort closed;
  ASSERT_TRUE(a.ok() && b.ok() && backup.ok() && closed.ok());
  TestConfig c;
  c.shm_name = UniqueSegmentName("bal");
  c.workers = 2;
  c.upstreams = {{.name = "app",
                  .primary = {a.address(), closed.address(), b.address()},
                  .backup = {backup.address()},
                  .balancer_listen = "127.0.0.1:0"}};
  DaemonProcess daemon(ConfigToml(c));
  int status_port = daemon.StatusPort();
  int port = daemon.BalancerPort("app");
  ASSERT_GT(status_port, 0) << daemon.err();
  ASSERT_GT(port, 0) << daemon.err();
  // Until both workers have shown `line`: the prober's own page shows a peer DOWN from its
  // failed probe on, the other worker's only after the cycle publishes, and a connection
  // may reach either. A view that has shown a change keeps it until the next transition.
  auto page_has = [&](const std::string& line) {
    std::set<std::string> shown;
    return Eventually([&] {
      HttpAnswer answer = HttpGet(status_port, "/status");
      std::string pid = answer.headers["x-worker-pid"];
      if (answer.body.find(line) != std::string::npos) {
        shown.insert(pid);
      } else {
        shown.erase(pid);
      }
      return shown.size() == 2;
    });
  };
  ASSERT_TRUE(page_has(closed.address() + " DOWN")) << daemon.err();

  std::set<std::string> seen;
  for (int i = 0; i < 8; ++i) seen.insert(Through(port));
  EXPECT_EQ(seen, (std::set<std::string>{"A", "B"}));  // never the down one, nor the backup

  a.Stop();
  b.Stop();
  ASSERT_TRUE(page_has(a.address() + " DOWN") && page_has(b.address() + " DOWN")) << daemon.err();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Through(port), "C") << daemon.err();

  backup.Stop();
  ASSERT_TRUE(page_has(backup.address() + " DOWN")) << daemon.err();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Through(port), "");  // closed at once, no byte
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  (void)Segment::Remove(c.shm_name);
}

}  // namespace
}  // namespace upcheck::testing
