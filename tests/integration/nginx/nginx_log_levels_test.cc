// The original's debug events follow nginx's error_log level: off at warn (its warnings and
// errors stay), on at debug or with any debug_* mask, as ngx.log's debug lines are.
#include <gtest/gtest.h>

#include <string>

#include "loopback_http_server.h"
#include "nginx_scenario.h"
#include "nginx_tokens.h"

namespace upcheck::testing {
namespace {

using Server = LoopbackHttpServer;

class NginxLogAt : public NginxScenario {
 protected:
  explicit NginxLogAt(const std::string& level)
      : NginxScenario(NginxProcess::Options{.log_level = level}) {}

  // S-2's layout (the backup refused), run until the backup is turned down.
  void RunBackupDown() {
    b0_ = refused_.address();
    ASSERT_NO_FATAL_FAILURE(
        Start({L3(s200_.address(), s404_.address(), b0_, Check("interval=100 fall=2"))}));
    ASSERT_TRUE(WaitForLine("healthcheck: peer " + b0_ + " is turned down after 2 failure(s)"));
  }

  Server s200_{Family::kV4, StatusResponse(200)};
  Server s404_{Family::kV4, StatusResponse(404)};
  LoopbackClosedPort refused_;
  std::string b0_;
};

class NginxLogAtWarn : public NginxLogAt {
 protected:
  NginxLogAtWarn() : NginxLogAt("warn") {}
};

class NginxLogDebugHttp : public NginxLogAt {
 protected:
  NginxLogDebugHttp() : NginxLogAt("debug_http") {}
};

TEST_F(NginxLogAtWarn, NoDebugEventsButWarningsAndErrors) {
  ASSERT_NO_FATAL_FAILURE(RunBackupDown());
  EXPECT_EQ(Count("healthcheck: failed to connect to " + b0_ + ": connection refused"), 2);
  EXPECT_EQ(nginx_.CountLog("healthcheck: .*(was checked to be|publishing|run a check cycle)"), 0)
      << nginx_.ErrorLog();
}

TEST_F(NginxLogDebugHttp, DebugEventsWithADebugMask) {
  ASSERT_NO_FATAL_FAILURE(RunBackupDown());
  EXPECT_TRUE(Logged("healthcheck: peer " + s200_.address() + " was checked to be ok"));
  EXPECT_TRUE(Logged("healthcheck: peer " + b0_ + " was checked to be not ok"));
  EXPECT_TRUE(Logged("healthcheck: publishing peers version 1"));
}

}  // namespace
}  // namespace upcheck::testing
