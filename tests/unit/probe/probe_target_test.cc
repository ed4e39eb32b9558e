#include "probe/probe_target.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace upcheck {
namespace {

TEST(ParseProbeTargetTest, SplitsIpv4HostAndPort) {
  auto target = ParseProbeTarget("127.0.0.1:12354");
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

TEST(ParseProbeTargetTest, StripsIpv6Brackets) {
  auto target = ParseProbeTarget("[::1]:12355");
  ASSERT_TRUE(target.ok()) << target.error();
  EXPECT_EQ(target->name, "[::1]:12355");
  EXPECT_EQ(target->host, "::1");
  EXPECT_EQ(target->port, 12355);
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&target->address);
  EXPECT_EQ(in6->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(in6->sin6_port), 12355);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
}

TEST(ParseProbeTargetTest, PortOverrideReplacesThePortButNotTheName) {
  auto target = ParseProbeTarget("127.0.0.1:12354", 8080);
  ASSERT_TRUE(target.ok()) << target.error();
  EXPECT_EQ(target->name, "127.0.0.1:12354");
  EXPECT_EQ(target->port, 8080);
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(&target->address)->sin_port), 8080);

  auto v6 = ParseProbeTarget("[::1]:1", 2);
  ASSERT_TRUE(v6.ok()) << v6.error();
  EXPECT_EQ(v6->port, 2);
}

TEST(ParseProbeTargetTest, UnixNamesAreNeverSplitNorOverridden) {
  auto target = ParseProbeTarget("unix:/run/app.sock", 8080);
  ASSERT_TRUE(target.ok()) << target.error();
  EXPECT_EQ(target->kind, ProbeTarget::Kind::kUnix);
  EXPECT_EQ(target->path, "/run/app.sock");
  EXPECT_EQ(target->port, 0);

  // Q23 fixed: the original would have split this into "unix:/run/x" and port 123.
  auto digits = ParseProbeTarget("unix:/run/x:123");
  ASSERT_TRUE(digits.ok()) << digits.error();
  EXPECT_EQ(digits->kind, ProbeTarget::Kind::kUnix);
  EXPECT_EQ(digits->path, "/run/x:123");
}

TEST(ParseProbeTargetTest, SplitsAtTheLastColonFollowedByDigits) {
  auto target = ParseProbeTarget("::1:80");  // greedy: host "::1"
  ASSERT_TRUE(target.ok()) << target.error();
  EXPECT_EQ(target->host, "::1");
  EXPECT_EQ(target->port, 80);
}

TEST(ParseProbeTargetTest, RejectsWhatCannotBeProbed) {
  EXPECT_EQ(ParseProbeTarget("127.0.0.1").error(), "bad peer name \"127.0.0.1\": no port");
  EXPECT_FALSE(ParseProbeTarget("127.0.0.1:").ok());
  EXPECT_FALSE(ParseProbeTarget("127.0.0.1:8x").ok());
  EXPECT_EQ(ParseProbeTarget("127.0.0.1:0").error(), "bad peer name \"127.0.0.1:0\": invalid port");
  EXPECT_FALSE(ParseProbeTarget("127.0.0.1:65536").ok());
  EXPECT_FALSE(ParseProbeTarget("127.0.0.1:0000000080").ok());
  EXPECT_FALSE(ParseProbeTarget("127.0.0.1:80", 0).ok());
  EXPECT_FALSE(ParseProbeTarget("127.0.0.1:80", 70000).ok());
  EXPECT_EQ(ParseProbeTarget("localhost:80").error(),
            "bad peer name \"localhost:80\": \"localhost\" is not an IP address (host names "
            "are resolved at config time)");
  EXPECT_FALSE(ParseProbeTarget(":80").ok());
  EXPECT_FALSE(ParseProbeTarget("[::1:80").ok());
  EXPECT_FALSE(ParseProbeTarget("unix:").ok());
  EXPECT_FALSE(ParseProbeTarget("unix:/" + std::string(200, 'x')).ok());
  EXPECT_FALSE(ParseProbeTarget(std::string("127.0.0.1\0x:80", 13)).ok());
}

}  // namespace
}  // namespace upcheck

namespace upcheck {
namespace {

// The checker's path: the address comes parsed from the Upstreams view.
TEST(MakeProbeTargetTest, BuildsTheSameTargetAsTheName) {
  for (std::string_view name : {"127.0.0.1:12354", "[::1]:12355", "unix:/run/x:123"}) {
    auto address = ParsePeerAddress(name);
    ASSERT_TRUE(address.ok()) << address.error();
    for (std::optional<int> port : {std::optional<int>(), std::optional<int>(8080)}) {
      auto made = MakeProbeTarget(std::string(name), *address, port);
      auto parsed = ParseProbeTarget(name, port);
      ASSERT_TRUE(made.ok()) << made.error();
      ASSERT_TRUE(parsed.ok()) << parsed.error();
      EXPECT_EQ(made->name, parsed->name);
      EXPECT_EQ(made->kind, parsed->kind);
      EXPECT_EQ(made->host, parsed->host);
      EXPECT_EQ(made->port, parsed->port);
      EXPECT_EQ(made->path, parsed->path);
      EXPECT_EQ(std::memcmp(&made->address, &parsed->address, sizeof(made->address)), 0) << name;
    }
  }
}

TEST(MakeProbeTargetTest, RefusesAnOverrideOutOfRange) {
  const PeerAddress address{PeerAddress::Family::kIpv4, "127.0.0.1", 80};
  EXPECT_EQ(MakeProbeTarget("127.0.0.1:80", address, 0).error(),
            "bad peer name \"127.0.0.1:80\": invalid port");
  EXPECT_FALSE(MakeProbeTarget("127.0.0.1:80", address, 70000).ok());
}

}  // namespace
}  // namespace upcheck
