// The module's `upcheck_status prometheus` page through `promtool check metrics`
// ($PROMTOOL): the original's nginx_upstream_status_info, then upcheck's families with
// samples from peers up, down by a refused connect, a 503 and a response cut short, one
// drained with upcheck-shmctl, and an upstream without a checker. No lint at all.
#include <gtest/gtest.h>

#include <string>

#include "loopback_http_server.h"
#include "nginx_scenario.h"
#include "nginx_tokens.h"
#include "promtool_check.h"

namespace upcheck::testing {
namespace {

using Server = LoopbackHttpServer;

bool Has(const std::string& page, const std::string& text) {
  return page.find(text) != std::string::npos;
}

TEST_F(NginxScenario, MetricsPassPromtoolCheck) {
  Server ok(Family::kV4, StatusResponse(200)), drained(Family::kV4, StatusResponse(200)),
      unavailable(Family::kV4, StatusResponse(503)), plain(Family::kV4, StatusResponse(200));
  Server cut({.mode = Server::Mode::kCloseBeforeLf});
  LoopbackClosedPort closed;
  const std::string p_ok = ok.address(), p_drained = drained.address(),
                    p_503 = unavailable.address(), p_closed = closed.address(),
                    b_cut = cut.address();
  ASSERT_NO_FATAL_FAILURE(Start({{"plain.com", {{plain.address()}}},
                                 {"foo.com",
                                  {{p_ok}, {p_drained}, {p_503}, {p_closed}, {b_cut, "backup"}},
                                  Check("interval=100 fall=1 valid_statuses=200")}}));
  ShmctlOut({"peer", "foo.com", p_drained, "drain", "--reason", "x"});
  ASSERT_TRUE(WaitForLine("healthcheck: peer " + p_503 + " is turned down"));
  ASSERT_TRUE(WaitForLine("healthcheck: peer " + p_closed + " is turned down"));
  ASSERT_TRUE(WaitForLine("healthcheck: peer " + b_cut + " is turned down"));
  ASSERT_TRUE(WaitForProbes(b_cut, 2));  // the publish after the turn is in every view

  const std::string page = Fetch("/metrics");
  const std::string failures = "upcheck_peer_check_failures_total{upstream=\"foo.com\",peer=\"";
  EXPECT_TRUE(Has(page, failures + p_503) && Has(page, failures + p_closed) &&
              Has(page, failures + b_cut))
      << page;
  EXPECT_TRUE(Has(page, "upcheck_peer_admin_state{upstream=\"foo.com\",peer=\"" + p_drained))
      << page;
  EXPECT_TRUE(PromtoolAccepts(page));
}

}  // namespace
}  // namespace upcheck::testing
