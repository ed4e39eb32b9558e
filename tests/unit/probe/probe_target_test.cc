#include "probe/probe_target.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <optional>
#include <string>
#include <string_view>

#include "probe_target_for.h"

namespace upcheck {
namespace {

TEST(ProbeTargetForTest, SplitsIpv4HostAndPort) {
  auto target = ProbeTargetFor("127.0.0.1:12354");
  ASSERT_TRUE(target.ok()) << target.error();
  EXPECT_EQ(target->name, "127.0.0.1:12354");
  EXPECT_EQ(target->kind, ProbeTarget::Kind::kTcp);
  EXPECT_EQ(target->host, "127.0.0.1");
  EXPECT_EQ(target->port, 12354);
  const auto* in = reinterpret_cast<const sockaddr_in*>(&target->address);
  EXPECT_EQ(in->sin_family, AF_INET);
  EXPECT_EQ(ntohs(in->sin_port), 12354);
  EXPECT_EQ(ntohl(in->sin_addr.s_addr), INADDR_LOOPBACK);
}

TEST(ProbeTargetForTest, StripsIpv6Brackets) {
  auto target = ProbeTargetFor("[::1]:12355");
  ASSERT_TRUE(target.ok()) << target.error();
  EXPECT_EQ(target->name, "[::1]:12355");
  EXPECT_EQ(target->host, "::1");
  EXPECT_EQ(target->port, 12355);
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&target->address);
  EXPECT_EQ(in6->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(in6->sin6_port), 12355);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
}

TEST(ProbeTargetForTest, PortOverrideReplacesThePortButNotTheName) {
  auto target = ProbeTargetFor("127.0.0.1:12354", 8080);
  ASSERT_TRUE(target.ok()) << target.error();
  EXPECT_EQ(target->name, "127.0.0.1:12354");
  EXPECT_EQ(target->port, 8080);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(&target->address)->sin_port), 8080);

  auto v6 = ProbeTargetFor("[::1]:1", 2);
  ASSERT_TRUE(v6.ok()) << v6.error();
  EXPECT_EQ(v6->port, 2);
}

TEST(ProbeTargetForTest, UnixNamesAreNeverSplitNorOverridden) {
  auto target = ProbeTargetFor("unix:/run/app.sock", 8080);
  ASSERT_TRUE(target.ok()) << target.error();
  EXPECT_EQ(target->kind, ProbeTarget::Kind::kUnix);
  EXPECT_EQ(target->path, "/run/app.sock");
  EXPECT_EQ(target->port, 0);

  // Q23 fixed: the original would have split this into "unix:/run/x" and port 123.
  auto digits = ProbeTargetFor("unix:/run/x:123");
  ASSERT_TRUE(digits.ok()) << digits.error();
  EXPECT_EQ(digits->kind, ProbeTarget::Kind::kUnix);
  EXPECT_EQ(digits->path, "/run/x:123");
}

TEST(ProbeTargetForTest, WantsIpv6InBrackets) {
  EXPECT_EQ(ProbeTargetFor("::1:80").error(),
            "bad peer address \"::1:80\" (put an IPv6 address in brackets, e.g. \"[::1]:80\")");
}

TEST(ProbeTargetForTest, RejectsWhatCannotBeProbed) {
  EXPECT_EQ(ProbeTargetFor("127.0.0.1").error(),
            "bad peer address \"127.0.0.1\" (expected IPv4:port, [IPv6]:port or unix:/path)");
  EXPECT_FALSE(ProbeTargetFor("127.0.0.1:").ok());
  EXPECT_FALSE(ProbeTargetFor("127.0.0.1:8x").ok());
  EXPECT_EQ(ProbeTargetFor("127.0.0.1:0").error(),
            "bad peer address \"127.0.0.1:0\" (the port must be a number between 1 and 65535)");
  EXPECT_FALSE(ProbeTargetFor("127.0.0.1:65536").ok());
  EXPECT_FALSE(ProbeTargetFor("127.0.0.1:0000000080").ok());
  EXPECT_FALSE(ProbeTargetFor("127.0.0.1:80", 0).ok());
  EXPECT_FALSE(ProbeTargetFor("127.0.0.1:80", 70000).ok());
  EXPECT_EQ(ProbeTargetFor("localhost:80").error(),
            "bad peer address \"localhost:80\" (host names are not resolved; use an IPv4 or "
            "[IPv6] address)");
  EXPECT_FALSE(ProbeTargetFor(":80").ok());
  EXPECT_FALSE(ProbeTargetFor("[::1:80").ok());
  EXPECT_FALSE(ProbeTargetFor("unix:").ok());
  EXPECT_FALSE(ProbeTargetFor("unix:/" + std::string(200, 'x')).ok());
  EXPECT_FALSE(ProbeTargetFor(std::string("127.0.0.1\0x:80", 13)).ok());
}

TEST(MakeProbeTargetTest, RefusesAnOverrideOutOfRange) {
  const PeerAddress address{PeerAddress::Family::kIpv4, "127.0.0.1", 80};
  EXPECT_EQ(MakeProbeTarget("127.0.0.1:80", address, 0).error(),
            "bad peer address \"127.0.0.1:80\" (the port override must be a number between 1 "
            "and 65535)");
  EXPECT_FALSE(MakeProbeTarget("127.0.0.1:80", address, 70000).ok());
}

}  // namespace
}  // namespace upcheck
