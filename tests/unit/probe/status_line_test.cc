#include "probe/status_line.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace upcheck {
namespace {

struct Case {
  std::string line;
  bool matched;
  double status;
};

class StatusLineParserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parser = StatusLineParser::Create();
    ASSERT_TRUE(parser.ok()) << parser.error();
    parser_ = std::move(parser).value();
  }
  std::unique_ptr<StatusLineParser> parser_;
};

TEST_F(StatusLineParserTest, MatchesLikeTheOriginal) {
  const Case cases[] = {
      {"HTTP/1.1 200 OK", true, 200},
      {"HTTP/1.0 404 Not Found", true, 404},
      {"http/1.1 200", true, 200},  // caseless
      {"HtTp/1.1 302 Found", true, 302},
      {"HTTP/2 200", false, 0},             // needs <digits>.<digits>
      {"HTTP/1.0 007", true, 7},            // tonumber drops leading zeros
      {"HTTP/1.1 200OK", true, 200},        // nothing required after the digits
      {"HTTP/1.1\t\t503 busy", true, 503},  // \s+ takes tabs
      {"HTTP/10.22 200", true, 200},
      {"HTTP/1.1 99999999999999999999 X", true, 1e20},
      {"", false, 0},
      {"<html>", false, 0},
      {" HTTP/1.1 200 OK", false, 0},  // anchored
      {"HTTP/1.1 OK", false, 0},
      {"HTTP/1.1200", false, 0},  // whitespace required
      {"HTTP/.1 200", false, 0},
      {std::string("HTTP/1.1 201\0 x", 15), true, 201},
  };
  for (const Case& c : cases) {
    auto match = parser_->Parse(c.line);
    ASSERT_TRUE(match.ok()) << c.line << ": " << match.error();
    EXPECT_EQ(match->matched, c.matched) << c.line;
    if (c.matched) {
      EXPECT_EQ(match->status, c.status) << c.line;
    }
  }
}

TEST_F(StatusLineParserTest, ReusesItsMatchDataAcrossCalls) {
  for (int i = 0; i < 1000; ++i) {
    auto match = parser_->Parse(i % 2 == 0 ? "HTTP/1.1 200 OK" : "garbage");
    ASSERT_TRUE(match.ok());
    EXPECT_EQ(match->matched, i % 2 == 0);
  }
}

TEST(StatusLineParserErrorTest, ReportsACompileErrorAsText) {
  auto parser = StatusLineParser::Create("(unclosed");
  ASSERT_FALSE(parser.ok());
  EXPECT_EQ(parser.error(),
            "failed to compile status line pattern: missing closing parenthesis at offset 9");
}

TEST(StatusLineParserErrorTest, ReportsAMatchErrorAsText) {
  // Catastrophic backtracking with a tiny match limit makes PCRE2 give up.
  auto parser = StatusLineParser::Create("^(a+)+$", 100);
  ASSERT_TRUE(parser.ok()) << parser.error();
  auto match = parser.value()->Parse(std::string(30, 'a') + "b");
  ASSERT_FALSE(match.ok());
  EXPECT_EQ(match.error(), "pcre2_match() failed: match limit exceeded");
}

TEST(LuaNumberTest, ToNumberOfDigits) {
  EXPECT_EQ(LuaToNumber("200"), 200);
  EXPECT_EQ(LuaToNumber("007"), 7);
  EXPECT_EQ(LuaToNumber("0"), 0);
  EXPECT_EQ(LuaToNumber("99999999999999999999"), 1e20);
  EXPECT_TRUE(std::isinf(LuaToNumber(std::string(400, '9'))));
}

TEST(LuaNumberTest, FormatsLikeLua) {
  EXPECT_EQ(FormatLuaNumber(404), "404");
  EXPECT_EQ(FormatLuaNumber(7), "7");
  EXPECT_EQ(FormatLuaNumber(0), "0");
  EXPECT_EQ(FormatLuaNumber(1e20), "1e+20");
  EXPECT_EQ(FormatLuaNumber(99999999999999.0), "99999999999999");
  EXPECT_EQ(FormatLuaNumber(999999999999999.0), "1e+15");
  EXPECT_EQ(FormatLuaNumber(0.5), "0.5");
  EXPECT_EQ(FormatLuaNumber(HUGE_VAL), "inf");
  EXPECT_EQ(FormatLuaNumber(LuaToNumber("99999999999999999999")), "1e+20");
}

}  // namespace
}  // namespace upcheck
