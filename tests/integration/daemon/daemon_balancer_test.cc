// upcheckd's TCP balancer end to end: only up peers are picked, backups only when every
// primary is down, and a client is closed at once when no peer is up.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>

#include "daemon_process.h"
#include "loopback_http_server.h"
#include "slow_tool.h"
#include "test_names.h"
#include "upcheck/internal/registry.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

using std::chrono::seconds;

std::string Named(const std::string& body) {
  return "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
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
  // Until the segment shows the `d:` keys set and every worker has ended a cycle since:
  // the worker that turned a peer down publishes it at the end of that cycle (protocol.md
  // §6.2), and every worker syncs to the published version before it picks. (Pages would
  // not do: the prober shows a change before it is published, and the status listener
  // hands most connections to whichever worker is idle, so the busy prober's page may not
  // come round for seconds.)
  ASSERT_TRUE(PublishedDown(c.shm_name, {"d:app:p1"}, true)) << daemon.err();

  std::set<std::string> seen;
  for (int i = 0; i < 8; ++i) seen.insert(ThroughBalancer(port));
  EXPECT_EQ(seen, (std::set<std::string>{"A", "B"}));  // never the down one, nor the backup

  a.Stop();
  b.Stop();
  ASSERT_TRUE(PublishedDown(c.shm_name, {"d:app:p0", "d:app:p2"}, true)) << daemon.err();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ThroughBalancer(port), "C") << daemon.err();

  backup.Stop();
  ASSERT_TRUE(PublishedDown(c.shm_name, {"d:app:b0"}, true)) << daemon.err();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ThroughBalancer(port), "");  // closed at once, no byte
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  (void)Segment::Remove(c.shm_name);
}

}  // namespace
}  // namespace upcheck::testing
