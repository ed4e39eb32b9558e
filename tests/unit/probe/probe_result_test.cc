#include "probe/probe_result.h"

#include <gtest/gtest.h>
#include <uv.h>

namespace upcheck {
namespace {

TEST(SocketErrorTextTest, IsNgxLuasLowerCasedStrerror) {
  EXPECT_EQ(SocketErrorText(UV_EOF), "closed");
  EXPECT_EQ(SocketErrorText(UV_ECONNREFUSED), "connection refused");
  EXPECT_EQ(SocketErrorText(UV_ECONNRESET), "connection reset by peer");
  EXPECT_EQ(SocketErrorText(UV_ENOENT), "no such file or directory");
  EXPECT_EQ(SocketErrorText(UV_EPIPE), "broken pipe");
  EXPECT_EQ(SocketErrorText(UV_EMFILE), "too many open files");
}

TEST(ProbeResultTest, NamesKindsForStatusJson) {
  ProbeResult result;
  EXPECT_TRUE(result.ok());
  EXPECT_TRUE(result.counted());
  EXPECT_EQ(ProbeResultName(result), "ok");
  result.kind = ProbeKind::kReceive;
  EXPECT_EQ(ProbeResultName(result), "receive");
  result.timed_out = true;
  EXPECT_EQ(ProbeResultName(result), "timeout");
  result.kind = ProbeKind::kSocket;
  EXPECT_FALSE(result.counted());
  EXPECT_EQ(ProbeKindName(ProbeKind::kStatusLine), "status_line");
  EXPECT_EQ(ProbeKindName(ProbeKind::kStatusCode), "status_code");
  EXPECT_EQ(ProbeKindName(ProbeKind::kTls), "tls");
  EXPECT_EQ(ProbeKindName(ProbeKind::kConnect), "connect");
  EXPECT_EQ(ProbeKindName(ProbeKind::kSend), "send");
}

// Response bytes for a log line: printable ASCII kept, everything else \xNN, cut short.
TEST(ProbeResultTest, EscapedForLog) {
  EXPECT_EQ(EscapedForLog("HTTP/2 200"), "HTTP/2 200");
  EXPECT_EQ(EscapedForLog(std::string("\x01\x00\xff\t\\e", 6)), "\\x01\\x00\\xff\\x09\\\\e");
  EXPECT_EQ(EscapedForLog(std::string(300, 'a')), std::string(200, 'a') + "...");
  EXPECT_EQ(EscapedForLog("abcdef", 3), "abc...");
  EXPECT_EQ(EscapedForLog(""), "");
  EXPECT_EQ(ProbeMessage(ProbeKind::kStatusLine, "127.0.0.1:80", "<html>"),
            "bad status line from 127.0.0.1:80: <html>");
  EXPECT_EQ(ProbeMessage(ProbeKind::kStatusLine, "127.0.0.1:80", ""),
            "bad status line from 127.0.0.1:80: ");
  EXPECT_EQ(ProbeMessage(ProbeKind::kStatusLine, "127.0.0.1:80", "a\nb" + std::string(300, 'x')),
            "bad status line from 127.0.0.1:80: a\\x0ab" + std::string(197, 'x') + "...");
  EXPECT_EQ(ProbeMessage(ProbeKind::kStatusLine, "127.0.0.1:80", "\x1b[31m"),
            "bad status line from 127.0.0.1:80: \\x1b[31m");
}

}  // namespace
}  // namespace upcheck
