// Checks beyond the original (DESIGN §9) through `upcheck_check` in nginx's workers: the same
// words as the config keys, the same outcomes as upcheckd's.
#include <gtest/gtest.h>

#include <string>

#include "loopback_http_server.h"
#include "nginx_scenario.h"
#include "nginx_tokens.h"
#include "tls_test_cert.h"

namespace upcheck::testing {
namespace {

using Server = LoopbackHttpServer;

TEST_F(NginxScenario, TcpChecksConnectOnly) {
  Server a(Family::kV4, StatusResponse(500)), c(Family::kV4, StatusResponse(500));
  LoopbackClosedPort refused;
  std::string p0 = a.address(), p1 = refused.address(), b0 = c.address();
  ASSERT_NO_FATAL_FAILURE(Start({L3(p0, p1, b0, "type=tcp interval=100 fall=2")}));
  ASSERT_TRUE(WaitForProbes(b0, 5));
  // A 500 answer does not matter: an accepted connection is the whole check.
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " UP", p1 + " DOWN"}, {b0 + " UP"}));
  EXPECT_TRUE(Logged("healthcheck: peer " + p1 + " is turned down after 2 failure(s)"));
  EXPECT_EQ(c.requests(), 0);  // the backup is never proxied to, and tcp sends nothing
}

TEST_F(NginxScenario, TlsChecksHandshakeOnly) {
  auto cert = TlsTestCert::Generate();
  ASSERT_TRUE(cert.ok()) << cert.error();
  Server::Options tls;
  tls.response = StatusResponse(500);
  tls.tls_cert_file = (*cert)->cert_file();
  tls.tls_key_file = (*cert)->key_file();
  Server a(tls), c(tls), plain(Family::kV4, StatusResponse(200));
  std::string p0 = a.address(), p1 = plain.address(), b0 = c.address();
  ASSERT_NO_FATAL_FAILURE(Start({L3(
      p0, p1, b0, "type=tls ssl_verify=false host=localhost interval=100 timeout=300 fall=2")}));
  ASSERT_TRUE(WaitForProbes(b0, 5));
  // A plain HTTP server fails the handshake; the TLS ones pass without a request.
  EXPECT_EQ(StatusPage(), Page("foo.com", {p0 + " UP", p1 + " DOWN"}, {b0 + " UP"}));
  EXPECT_EQ(c.requests(), 0);
}

}  // namespace
}  // namespace upcheck::testing
