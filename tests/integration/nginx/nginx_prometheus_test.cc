// The original's prometheus_*.t (original-tests.md P-DOWN, P-EMPTY, P-MIXED, P-UP) hosted in
// nginx: `upcheck_status prometheus` answers prometheus_status_page() byte for byte, then
// upcheck's own metric families.
#include <gtest/gtest.h>

#include <string>

#include "expected_pages.h"
#include "loopback_http_server.h"
#include "nginx_scenario.h"
#include "nginx_tokens.h"

namespace upcheck::testing {
namespace {

using Server = LoopbackHttpServer;

// The original's page, then nothing or upcheck's own families.
::testing::AssertionResult OriginalPageThenOurs(const std::string& body,
                                                const std::string& original) {
  if (body.compare(0, original.size(), original) != 0) {
    return ::testing::AssertionFailure() << "expected a page beginning with\n"
                                         << original << "got\n"
                                         << body;
  }
  std::string rest = body.substr(original.size());
  if (!rest.empty() && rest.rfind("# HELP upcheck_", 0) != 0) {
    return ::testing::AssertionFailure() << "after the original's page:\n" << rest;
  }
  return ::testing::AssertionSuccess();
}

const std::string kValid200 = "interval=100 fall=2 valid_statuses=200";

TEST_F(NginxScenario, PDown_EverythingDown) {
  Server a(Family::kV4, StatusResponse(500)), b(Family::kV4, StatusResponse(500)),
      c(Family::kV4, StatusResponse(500));
  std::string p0 = a.address(), p1 = b.address(), b0 = c.address();
  ASSERT_NO_FATAL_FAILURE(Start({L3(p0, p1, b0, Check(kValid200))}));
  ASSERT_TRUE(WaitForLine("healthcheck: peer " + b0 + " is turned down"));
  EXPECT_TRUE(OriginalPageThenOurs(Fetch("/metrics"),
                                   kPromHeader + PromPeer("foo.com", p0, false, "PRIMARY") +
                                       PromPeer("foo.com", p1, false, "PRIMARY") +
                                       PromPeer("foo.com", b0, false, "BACKUP") +
                                       PromSummary("foo.com", 0, 1, 0)));
}

TEST_F(NginxScenario, PEmpty_NoUpstreams) {
  ASSERT_NO_FATAL_FAILURE(Start({}, "1m", ""));
  EXPECT_TRUE(OriginalPageThenOurs(Fetch("/metrics"), kPromHeader));
}

TEST_F(NginxScenario, PMixed_OneUpstreamWithoutChecker) {
  Server s500a(Family::kV4, StatusResponse(500)), s200a(Family::kV4, StatusResponse(200)),
      s500b(Family::kV4, StatusResponse(500)), s200b(Family::kV4, StatusResponse(200)),
      s200c(Family::kV4, StatusResponse(200));
  std::string p12354 = s500a.address(), p12355 = s200a.address(), b12356 = s500b.address(),
              p12357 = s200b.address();
  ASSERT_NO_FATAL_FAILURE(
      Start({{"unknown.com", {{s200c.address()}}},
             {"foo.com", {{p12354}, {p12355}, {b12356, "backup"}, {p12357}}, Check(kValid200)}}));
  ASSERT_TRUE(WaitForLine("healthcheck: peer " + b12356 + " is turned down"));
  ASSERT_TRUE(WaitForLine("healthcheck: peer " + p12354 + " is turned down"));
  EXPECT_TRUE(
      OriginalPageThenOurs(Fetch("/metrics"), kPromHeader + PromSummary("unknown.com", 0, 0, 1) +
                                                  PromPeer("foo.com", p12354, false, "PRIMARY") +
                                                  PromPeer("foo.com", p12355, true, "PRIMARY") +
                                                  PromPeer("foo.com", p12357, true, "PRIMARY") +
                                                  PromPeer("foo.com", b12356, false, "BACKUP") +
                                                  PromSummary("foo.com", 1, 0, 0)));
}

TEST_F(NginxScenario, PUp_EverythingUp) {
  Server a(Family::kV4, StatusResponse(200)), b(Family::kV4, StatusResponse(200)),
      c(Family::kV4, StatusResponse(200));
  std::string p0 = a.address(), p1 = b.address(), b0 = c.address();
  ASSERT_NO_FATAL_FAILURE(Start({L3(p0, p1, b0, Check(kValid200))}));
  ASSERT_TRUE(WaitForProbes(b0, 3));
  EXPECT_TRUE(OriginalPageThenOurs(Fetch("/metrics"), kPromHeader +
                                                          PromPeer("foo.com", p0, true, "PRIMARY") +
                                                          PromPeer("foo.com", p1, true, "PRIMARY") +
                                                          PromPeer("foo.com", b0, true, "BACKUP") +
                                                          PromSummary("foo.com", 1, 0, 0)));
}

}  // namespace
}  // namespace upcheck::testing
