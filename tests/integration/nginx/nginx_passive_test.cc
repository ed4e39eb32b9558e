// Passive checks in nginx (DESIGN §10): the module wraps each request's peer callbacks and
// reports nginx's own upstream results, so that a backend whose health port answers 200
// but which resets every proxied request turns down after passive_fall failures.
#include <gtest/gtest.h>

#include <string>

#include "loopback_http_server.h"
#include "nginx_scenario.h"
#include "nginx_tokens.h"

namespace upcheck::testing {
namespace {

class NginxPassiveTest : public NginxScenario {};

TEST_F(NginxPassiveTest, APeerThatResetsProxiedRequestsTurnsDownAfterPassiveFall) {
  LoopbackHttpServer::Options reset_options;
  reset_options.mode = LoopbackHttpServer::Mode::kReset;
  LoopbackHttpServer resets(reset_options);
  LoopbackHttpServer health(Family::kV4, StatusResponse(200));
  ASSERT_TRUE(resets.ok() && health.ok());
  const std::string p0 = resets.address();
  // rise: the passing active checks must not bring it back while the test looks.
  ASSERT_NO_FATAL_FAILURE(
      Start({UpstreamBlock{"foo.com",
                           {{p0}},
                           Check("interval=100 fall=1 rise=1000000 port=" +
                                 std::to_string(health.port()) + " passive_fall=2")}}));
  ASSERT_TRUE(WaitForProbes(p0, 1));
  for (int i = 1; i <= 2; ++i) {
    Result<HttpReply> reply = Get(port_, "/");
    ASSERT_TRUE(reply.ok()) << reply.error();
    EXPECT_EQ(reply->status, 502);
    EXPECT_EQ(resets.connections(), i);
  }
  EXPECT_TRUE(WaitForLine("healthcheck: peer " + p0 +
                          " is turned down after 2 passive failure(s), upstream: \"foo.com\""));
  Result<HttpReply> refused = Get(port_, "/");
  ASSERT_TRUE(refused.ok()) << refused.error();
  EXPECT_EQ(refused->status, 502);
  EXPECT_EQ(resets.connections(), 2) << "a down peer gets no more requests";
}

}  // namespace
}  // namespace upcheck::testing
