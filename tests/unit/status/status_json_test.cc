// StatusJson(): DESIGN §5's document from a view, the segment's registry and its dict.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "check_events.h"
#include "test_names.h"
#include "upcheck/internal/registry.h"
#include "upcheck/internal/status_details.h"
#include "upcheck/segment.h"

namespace upcheck {
namespace {

class StatusJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CheckOptions check;
    check.type = "http";
    check.http_req = "GET / HTTP/1.0\r\n\r\n";
    specs_ = {{"foo.com", {{"127.0.0.1:1"}, {"[0:0::1]:2", true}}, {{"unix:/tmp/x.sock"}}, check},
              {"bar.com", {{"127.0.0.1:3"}}, {}, std::nullopt}};
    auto seg =
        SegmentSetUp::Create({.name = name_, .size = 1 << 20}, Registry::BytesNeeded(specs_, 2));
    ASSERT_TRUE(seg.ok()) << seg.error();
    segment_ = std::move(*seg);
    auto reg = Registry::Create(*segment_, specs_, 2);
    ASSERT_TRUE(reg.ok()) << reg.error();
    registry_.emplace(std::move(*reg));
    segment_->Publish();
    auto view = registry_->BuildUpstreams();
    ASSERT_TRUE(view.ok()) << view.error();
    view_ = std::move(*view);
    view_.AddChecker("foo.com", 1);
  }
  void TearDown() override { (void)Segment::Remove(name_); }

  // p0 failed (turned down), then passed; the backup timed out.
  void RecordChecks() {
    PeerCheckEvent e = testing::RefusedConnectEvent();
    registry_->RecordCheck(e);
    e.kind = ProbeKind::kOk;
    e.detail = "";
    e.transition = HealthTransition::kUnchanged;
    e.duration_ms = 0.5;
    e.unix_ms = 1700000001456;
    registry_->RecordCheck(e);
    e = PeerCheckEvent{};
    e.upstream = "foo.com";
    e.backup = true;
    e.peer = "unix:/tmp/x.sock";
    e.kind = ProbeKind::kReceive;
    e.timed_out = true;
    e.detail = "timeout";
    e.duration_ms = 1000;
    e.unix_ms = 1700000002000;
    registry_->RecordCheck(e);
    // What a checker stores after publishing version 3 (CheckerInternals::version_hint).
    const double version = 3;
    uint64_t bits;
    std::memcpy(&bits, &version, sizeof(bits));
    registry_->version_hint(0)->store(bits);
  }

  std::string name_ = testing::UniqueSegmentName("sjson");
  std::vector<RegistryUpstreamSpec> specs_;
  std::unique_ptr<Segment> segment_;
  std::optional<Registry> registry_;
  Upstreams view_;
};

TEST_F(StatusJsonTest, ExactDocumentWithRegistryAndDict) {
  RecordChecks();
  ASSERT_TRUE(segment_->dict().Set("ok:foo.com:p0", DictValue(1.0)).ok());
  ASSERT_TRUE(segment_->dict().Set("nok:foo.com:b0", DictValue(1.0)).ok());
  ASSERT_TRUE(view_.SetPeerDown("foo.com", true, 0, true).ok());
  EXPECT_EQ(
      StatusJson(view_, &*registry_, &segment_->dict(), 4242),
      R"({"worker_pid":4242,"upstreams":[)"
      R"({"name":"foo.com","checkers":1,"version":3,"peers":[)"
      R"({"name":"127.0.0.1:1","role":"primary","id":0,"up":true,"ok":1,"nok":0,"checks":2,)"
      R"("failures":1,"failures_by_result":{"connect":1},)"
      R"("last_check":"2023-11-14T22:13:21.456Z","last_duration_ms":0.5,)"
      R"("last_result":"ok","last_error":"","last_change":"2023-11-14T22:13:20.123Z",)"
      R"("admin":"auto","admin_reason":"","admin_expires":null},)"
      R"({"name":"[::1]:2","role":"primary","id":1,"up":false,"ok":0,"nok":0,"checks":0,)"
      R"("failures":0,"failures_by_result":{},)"
      R"("last_check":null,"last_duration_ms":0.0,"last_result":"",)"
      R"("last_error":"","last_change":null,"admin":"auto","admin_reason":"","admin_expires":null},)"
      R"({"name":"unix:/tmp/x.sock","role":"backup","id":0,"up":false,"ok":0,"nok":1,)"
      R"("checks":1,"failures":1,"failures_by_result":{"timeout":1},)"
      R"("last_check":"2023-11-14T22:13:22.000Z",)"
      R"("last_duration_ms":1000.0,"last_result":"timeout",)"
      R"("last_error":"failed to receive status line from unix:/tmp/x.sock: timeout",)"
      R"("last_change":null,"admin":"auto","admin_reason":"","admin_expires":null}]},)"
      R"({"name":"bar.com","checkers":0,"version":0,"peers":[)"
      R"({"name":"127.0.0.1:3","role":"primary","id":0,"up":true,"ok":0,"nok":0,"checks":0,)"
      R"("failures":0,"failures_by_result":{},)"
      R"("last_check":null,"last_duration_ms":0.0,"last_result":"",)"
      R"("last_error":"","last_change":null,"admin":"auto","admin_reason":"","admin_expires":null}]}]})");
}

// An operator's override as the registry holds it; once expired it reads as auto.
TEST_F(StatusJsonTest, AdminStateFollowsTheDetails) {
  PeerAdmin drain{AdminState::kDrain, "deploy \"42\"", /*expires_ms=*/4102444800000,
                  /*changed_ms=*/1};
  ASSERT_TRUE(registry_->SetAdmin(1, false, 0, drain).ok());
  std::string text = StatusJson(view_, &*registry_, 1);
  EXPECT_NE(text.find(R"("last_change":null,"admin":"drain","admin_reason":"deploy \"42\"",)"
                      R"("admin_expires":"2100-01-01T00:00:00.000Z"}]}]})"),
            std::string::npos)
      << text;
  drain.expires_ms = 2;  // long past
  ASSERT_TRUE(registry_->SetAdmin(1, false, 0, drain).ok());
  const nlohmann::json doc = nlohmann::json::parse(StatusJson(view_, &*registry_, 1));
  EXPECT_EQ(doc["upstreams"][1]["peers"][0]["admin"], "auto");
  EXPECT_EQ(doc["upstreams"][1]["peers"][0]["admin_reason"], "");
}

// failures_by_result: the nonzero counts by last_result name, in kFailureResults' order,
// adding up to failures.
TEST_F(StatusJsonTest, FailuresByResultHoldsTheNonzeroCounts) {
  PeerCheckEvent e;
  e.upstream = "foo.com";
  e.peer = "127.0.0.1:1";
  e.unix_ms = 1700000002000;
  for (ProbeKind kind : {ProbeKind::kBody, ProbeKind::kStatusLine, ProbeKind::kBody,
                         ProbeKind::kTls, ProbeKind::kOk, ProbeKind::kSend}) {
    e.kind = kind;
    registry_->RecordCheck(e);
  }
  const std::string text = StatusJson(view_, &*registry_, 1);
  EXPECT_NE(text.find(R"("failures":5,"failures_by_result":{"tls":1,"send":1,"status_line":1,)"
                      R"("body":2},"last_check")"),
            std::string::npos)
      << text;
  const nlohmann::json doc = nlohmann::json::parse(text);
  EXPECT_EQ(doc["upstreams"][0]["peers"][1]["failures_by_result"], nlohmann::json::object());
}

// next_check: when the schedule has the peer due, as its checker reported it; left out
// until one did.
TEST_F(StatusJsonTest, NextCheckOnceAScheduleReportedIt) {
  PeerCheckEvent e;
  e.upstream = "foo.com";
  e.peer = "127.0.0.1:1";
  e.unix_ms = 1700000002000;
  e.next_check_unix_ms = 1700000003000;
  registry_->RecordCheck(e);
  const nlohmann::json doc = nlohmann::json::parse(StatusJson(view_, &*registry_, 1));
  EXPECT_EQ(doc["upstreams"][0]["peers"][0]["next_check"], "2023-11-14T22:13:23.000Z");
  EXPECT_FALSE(doc["upstreams"][0]["peers"][1].contains("next_check"));
}

TEST_F(StatusJsonTest, WithoutRegistryTheDetailsAreOmitted) {
  EXPECT_EQ(StatusJson(view_, nullptr, 7),
            R"({"worker_pid":7,"upstreams":[)"
            R"({"name":"foo.com","checkers":1,"version":0,"peers":[)"
            R"({"name":"127.0.0.1:1","role":"primary","id":0,"up":true,"ok":0,"nok":0},)"
            R"({"name":"[::1]:2","role":"primary","id":1,"up":false,"ok":0,"nok":0},)"
            R"({"name":"unix:/tmp/x.sock","role":"backup","id":0,"up":true,"ok":0,"nok":0}]},)"
            R"({"name":"bar.com","checkers":0,"version":0,"peers":[)"
            R"({"name":"127.0.0.1:3","role":"primary","id":0,"up":true,"ok":0,"nok":0}]}]})");
}

TEST_F(StatusJsonTest, AnUpstreamTheRegistryDoesNotKnowHasNoDetails) {
  Upstreams view;
  ASSERT_TRUE(view.AddUpstream("other", {{"127.0.0.1:9"}}, {}).ok());
  EXPECT_EQ(StatusJson(view, &*registry_, &segment_->dict(), 1),
            R"({"worker_pid":1,"upstreams":[{"name":"other","checkers":0,"version":0,)"
            R"("peers":[{"name":"127.0.0.1:9","role":"primary","id":0,"up":true,"ok":0,)"
            R"("nok":0}]}]})");
}

TEST_F(StatusJsonTest, RunsTheBeforeReadHook) {
  view_.SetBeforeReadHook([this] { (void)view_.SetPeerDown("bar.com", false, 0, true); });
  auto doc = nlohmann::json::parse(StatusJson(view_, &*registry_, 1));
  EXPECT_EQ(doc["upstreams"][1]["peers"][0]["up"], false);
}

TEST(StatusJsonEmpty, NoUpstreams) {
  EXPECT_EQ(StatusJson(Upstreams(), nullptr, nullptr, 5), R"({"worker_pid":5,"upstreams":[]})");
}

TEST(StatusJsonScale, TenThousandPeers) {
  Upstreams view;
  std::vector<PeerConfig> peers;
  for (int i = 0; i < 10000; ++i)
    peers.push_back(
        {"10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":80"});
  ASSERT_TRUE(view.AddUpstream("big", std::move(peers), {}).ok());
  const auto start = std::chrono::steady_clock::now();
  const std::string doc = StatusJson(view, nullptr, 1);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  std::printf("StatusJson, 10000 peers, no registry: %lld us, %zu bytes\n",
              static_cast<long long>(us), doc.size());
  EXPECT_EQ(nlohmann::json::parse(doc)["upstreams"][0]["peers"].size(), 10000u);
}

}  // namespace
}  // namespace upcheck
