// upcheckd with a tcp check (DESIGN §9): a peer that accepts connections is up, one that
// refuses them is down, and the backends receive no request. Real binary, loopback peers.
#include <gtest/gtest.h>

#include <string>

#include "daemon_process.h"
#include "loopback_http_server.h"
#include "test_names.h"
#include "upcheck/segment.h"

namespace upcheck::testing {
namespace {

using std::chrono::seconds;

TEST(DaemonTcpCheckTest, AcceptingPeerIsUpRefusingPeerIsDownAndNothingIsSent) {
  ASSERT_FALSE(UpcheckdPath().empty()) << "set UPCHECKD to the upcheckd binary";
  LoopbackHttpServer up(Family::kV4, StatusResponse(200));
  LoopbackClosedPort closed;
  ASSERT_TRUE(up.ok() && closed.ok());
  const std::string shm = UniqueSegmentName("tcp");
  const std::string toml = "[shm]\nname = \"" + shm +
                           "\"\nsize = \"256k\"\n\n[daemon]\nworkers = 2\nlog_level = \"notice\"\n"
                           "status_listen = \"127.0.0.1:0\"\n\n[[upstream]]\nname = \"app\"\n"
                           "primary = [\"" +
                           up.address() + "\", \"" + closed.address() +
                           "\"]\n\n[upstream.check]\ntype = \"tcp\"\ninterval = 100\n"
                           "timeout = 2000\nfall = 1\nrise = 1\n";
  DaemonProcess daemon(toml);
  int port = daemon.StatusPort();
  ASSERT_GT(port, 0) << daemon.err();
  const std::string want = "Upstream app\n    Primary Peers\n        " + up.address() +
                           " UP\n        " + closed.address() + " DOWN\n    Backup Peers\n";
  HttpAnswer last;
  bool converged = Eventually(
      [&] {
        last = HttpGet(port, "/status");
        return last.ok && last.body == want;
      },
      seconds(15));
  EXPECT_TRUE(converged) << last.body << last.error << daemon.err();
  EXPECT_TRUE(
      daemon.WaitForErr("failed to connect to " + closed.address() + ": connection refused"))
      << daemon.err();
  EXPECT_TRUE(up.WaitForConnections(2, std::chrono::milliseconds(5000)));
  EXPECT_EQ(up.requests(), 0);
  EXPECT_EQ(daemon.Stop(), 0) << daemon.err();
  (void)Segment::Remove(shm);
}

}  // namespace
}  // namespace upcheck::testing
