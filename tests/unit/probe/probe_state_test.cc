#include "probe/probe_state.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace upcheck {
namespace {

class ProbeStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parser = StatusLineParser::Create();
    ASSERT_TRUE(parser.ok()) << parser.error();
    parser_ = std::move(parser).value();
    options_.valid_statuses = std::vector<double>{200};
    env_.options = &options_;
    env_.parser = parser_.get();
    state_.Start();
  }

  bool Take(const std::string& bytes) {
    return state_.TakeAnswer(bytes.data(), bytes.size(), env_, kName);
  }

  const std::string kName = "127.0.0.1:80";
  ProbeOptions options_;
  std::unique_ptr<StatusLineParser> parser_;
  ProbeEnv env_;
  ProbeState state_;
};

TEST(StepKindTest, ATimeoutFailsTheStepItInterrupts) {
  EXPECT_EQ(StepKind(ProbeStep::kConnect), ProbeKind::kConnect);
  EXPECT_EQ(StepKind(ProbeStep::kHandshake), ProbeKind::kTls);
  EXPECT_EQ(StepKind(ProbeStep::kSend), ProbeKind::kSend);
  EXPECT_EQ(StepKind(ProbeStep::kReceive), ProbeKind::kReceive);
}

TEST_F(ProbeStateTest, JudgesTheLineOnceItIsWhole) {
  state_.Enter(ProbeStep::kReceive);
  EXPECT_FALSE(Take("HTTP/1.0 2"));
  EXPECT_FALSE(state_.finished());
  EXPECT_TRUE(Take("00 OK\r\nignored"));
  EXPECT_TRUE(state_.finished());
  EXPECT_TRUE(state_.answered());
  ProbeResult result = state_.TakeResult();
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.status_line, "HTTP/1.0 200 OK");
  EXPECT_EQ(result.status, 200);
}

TEST_F(ProbeStateTest, ABadStatusIsAnAnswerAndAFailure) {
  EXPECT_TRUE(Take("HTTP/1.1 503 Busy\n"));
  EXPECT_TRUE(state_.answered());
  ProbeResult result = state_.TakeResult();
  EXPECT_EQ(result.kind, ProbeKind::kStatusCode);
  EXPECT_EQ(result.message, "bad status code from 127.0.0.1:80: 503");
}

TEST_F(ProbeStateTest, ALineTooLongFailsTheReceive) {
  EXPECT_FALSE(Take(std::string(kMaxFirstLineBytes, 'A')));
  EXPECT_TRUE(Take("A"));
  EXPECT_FALSE(state_.answered());
  ProbeResult result = state_.TakeResult();
  EXPECT_EQ(result.kind, ProbeKind::kReceive);
  EXPECT_EQ(result.message,
            "failed to receive status line from 127.0.0.1:80: status line too long");
}

TEST_F(ProbeStateTest, ATimeoutIsTheCurrentStepsAndTheFirstOutcomeStays) {
  state_.Enter(ProbeStep::kHandshake);
  EXPECT_TRUE(state_.TimeOut(kName));
  EXPECT_FALSE(state_.Finish(ProbeKind::kSend, kName, "broken pipe"));
  EXPECT_FALSE(state_.Abandon());
  ProbeResult result = state_.TakeResult();
  EXPECT_EQ(result.kind, ProbeKind::kTls);
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.message, "failed to ssl handshake to 127.0.0.1:80: timeout");
  EXPECT_GE(result.duration_ms, 0);
}

TEST_F(ProbeStateTest, ResetReadiesTheStateForTheNextProbe) {
  EXPECT_FALSE(Take("HTTP/1.1 2"));
  EXPECT_TRUE(state_.Abandon());
  state_.Reset();
  EXPECT_FALSE(state_.finished());
  EXPECT_EQ(state_.step(), ProbeStep::kConnect);
  EXPECT_TRUE(Take("HTTP/1.1 200\n"));
  EXPECT_EQ(state_.TakeResult().status_line, "HTTP/1.1 200");
}

}  // namespace
}  // namespace upcheck
