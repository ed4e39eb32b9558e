// Peer and listen address syntax.
#include <gtest/gtest.h>

#include "config/address.h"
#include "upcheck/config.h"

namespace upcheck::config {
namespace {

std::string Canonical(std::string_view text) {
  const Result<std::string> address = CanonicalPeerAddress(text);
  return address.ok() ? address.value() : "error: " + address.error();
}

TEST(PeerAddressTest, AcceptsTheThreeForms) {
  EXPECT_EQ(Canonical("127.0.0.1:12354"), "127.0.0.1:12354");
  EXPECT_EQ(Canonical("[::1]:12355"), "[::1]:12355");
  EXPECT_EQ(Canonical("unix:/run/app.sock"), "unix:/run/app.sock");
}

TEST(PeerAddressTest, CanonicalisesIpLiterals) {
  // nginx shows "[0:0::1]:12356" as "[::1]:12356" (sanity.t test 14).
  EXPECT_EQ(Canonical("[0:0::1]:12356"), "[::1]:12356");
  EXPECT_EQ(Canonical("[2001:DB8::0001]:80"), "[2001:db8::1]:80");
  EXPECT_EQ(Canonical("127.0.0.1:0080"), "127.0.0.1:80");
}

TEST(PeerAddressTest, NeverSplitsUnixPaths) {
  // Q23 fix: the trailing ":123" is part of the path.
  EXPECT_EQ(Canonical("unix:/run/x:123"), "unix:/run/x:123");
}

TEST(PeerAddressTest, ExplainsWhatIsWrong) {
  EXPECT_EQ(Canonical("foo"),
            "error: bad peer address \"foo\" (expected IPv4:port, [IPv6]:port or unix:/path)");
  EXPECT_EQ(Canonical("127.0.0.1:0"),
            "error: bad peer address \"127.0.0.1:0\" (the port must be a number between 1 and "
            "65535)");
  EXPECT_EQ(Canonical("127.0.0.1:65536"),
            "error: bad peer address \"127.0.0.1:65536\" (the port must be a number between 1 "
            "and 65535)");
  EXPECT_EQ(Canonical("127.0.0.1:http"),
            "error: bad peer address \"127.0.0.1:http\" (the port must be a number between 1 "
            "and 65535)");
  EXPECT_EQ(Canonical("::1:80"),
            "error: bad peer address \"::1:80\" (put an IPv6 address in brackets, e.g. "
            "\"[::1]:80\")");
  EXPECT_EQ(Canonical("[zz::1]:80"),
            "error: bad peer address \"[zz::1]:80\" (not an IPv6 address inside the brackets)");
  EXPECT_EQ(Canonical("[::1]80"),
            "error: bad peer address \"[::1]80\" (expected IPv4:port, [IPv6]:port or "
            "unix:/path)");
  EXPECT_EQ(Canonical("256.0.0.1:80"),
            "error: bad peer address \"256.0.0.1:80\" (not an IPv4 address)");
  EXPECT_EQ(Canonical("backend-1.example.com:8080"),
            "error: bad peer address \"backend-1.example.com:8080\" (host names are not "
            "resolved; use an IPv4 or [IPv6] address)");
  EXPECT_EQ(Canonical("a b:80"),
            "error: bad peer address \"a b:80\" (expected IPv4:port, [IPv6]:port or "
            "unix:/path)");
  EXPECT_EQ(Canonical(":80"),
            "error: bad peer address \":80\" (expected IPv4:port, [IPv6]:port or "
            "unix:/path)");
  EXPECT_EQ(Canonical("unix:run/app.sock"),
            "error: bad peer address \"unix:run/app.sock\" (unix: needs an absolute path, e.g. "
            "\"unix:/run/app.sock\")");
  EXPECT_EQ(Canonical("unix:/" + std::string(107, 'x')),
            "error: bad peer address \"unix:/" + std::string(107, 'x') +
                "\" (unix socket path longer than 107 bytes)");
}

TEST(ListenAddressTest, SplitsForBind) {
  const Result<ListenAddress> v4 = ParseListenAddress("127.0.0.1:8080");
  ASSERT_TRUE(v4.ok()) << v4.error();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8080);
  EXPECT_FALSE(v4->ipv6);
  const Result<ListenAddress> v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.error();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_TRUE(v6->ipv6);
  EXPECT_EQ(ParseListenAddress("0.0.0.0:65535")->port, 65535);
}

// A port alone binds loopback, never every interface.
TEST(ListenAddressTest, APortAloneIsLoopback) {
  Result<ListenAddress> a = ParseListenAddress("8080");
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  EXPECT_FALSE(a->ipv6);
  EXPECT_EQ(ParseListenAddress("0")->port, 0);
}

TEST(ListenAddressTest, WantsAnIpLiteralAndAPort) {
  EXPECT_EQ(ParseListenAddress("localhost:8080").error(),
            "bad listen address \"localhost:8080\" (IPv4:port, [IPv6]:port or a port alone for "
            "127.0.0.1, e.g. \"127.0.0.1:8080\")");
  EXPECT_EQ(ParseListenAddress(":8080").error(),
            "bad listen address \":8080\" (IPv4:port, [IPv6]:port or a port alone for "
            "127.0.0.1, e.g. \"127.0.0.1:8080\")");
  EXPECT_EQ(ParseListenAddress("65536").error(),
            "bad listen address \"65536\" (the port must be a number between 0 and 65535)");
  EXPECT_EQ(ParseListenAddress("127.0.0.1:65536").error(),
            "bad listen address \"127.0.0.1:65536\" (the port must be a number between 0 and "
            "65535)");
  EXPECT_FALSE(ParseListenAddress("unix:/run/x.sock").ok());
  EXPECT_FALSE(ParseListenAddress("[::1]").ok());
}

}  // namespace
}  // namespace upcheck::config
