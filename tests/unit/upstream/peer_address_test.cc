// Peer address parsing and canonical names.
#include "upcheck/peer_address.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace upcheck {
namespace {

// The canonical name, or "error: <message>".
std::string Name(std::string_view text) {
  const Result<PeerAddress> address = ParsePeerAddress(text);
  return address.ok() ? PeerAddressName(*address) : "error: " + address.error();
}

struct CanonicalCase {
  std::string_view input;
  std::string_view expected;
};

TEST(PeerAddressTest, CanonicalisesLikeNginx) {
  const CanonicalCase cases[] = {
      {"127.0.0.1:12354", "127.0.0.1:12354"},
      {"127.0.0.1:012354", "127.0.0.1:12354"},
      {"10.0.0.255:65535", "10.0.0.255:65535"},
      {"0.0.0.0:1", "0.0.0.0:1"},
      {"[::1]:12355", "[::1]:12355"},
      {"[0:0::1]:12356", "[::1]:12356"},  // sanity.t test 14
      {"[0:0:0:0:0:0:0:1]:80", "[::1]:80"},
      {"[2001:DB8::0001]:443", "[2001:db8::1]:443"},
      {"[::ffff:127.0.0.1]:80", "[::ffff:127.0.0.1]:80"},  // inet_ntop's form
      {"[::]:80", "[::]:80"},
      {"unix:/x", "unix:/x"},
      {"unix:/run/app.sock", "unix:/run/app.sock"},
      {"unix:/run/x:123", "unix:/run/x:123"},  // never split (Q23)
      {"unix:relative.sock", "unix:relative.sock"},
  };
  for (const CanonicalCase& c : cases) EXPECT_EQ(Name(c.input), c.expected) << c.input;
}

TEST(PeerAddressTest, ParsesTheParts) {
  const Result<PeerAddress> v4 = ParsePeerAddress("127.0.0.1:12354");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(*v4, (PeerAddress{PeerAddress::Family::kIpv4, "127.0.0.1", 12354}));

  const Result<PeerAddress> v6 = ParsePeerAddress("[0:0::1]:12356");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(*v6, (PeerAddress{PeerAddress::Family::kIpv6, "::1", 12356}));

  const Result<PeerAddress> unix_socket = ParsePeerAddress("unix:/run/x:123");
  ASSERT_TRUE(unix_socket.ok());
  EXPECT_EQ(*unix_socket, (PeerAddress{PeerAddress::Family::kUnix, "/run/x:123", 0}));
}

struct ErrorCase {
  std::string_view input;
  std::string_view message;
};

TEST(PeerAddressTest, NamesTheBadAddressAndWhy) {
  const std::string long_path = "unix:/" + std::string(107, 'a');
  const std::string long_message = "error: invalid peer address \"" + long_path +
                                   "\": unix socket path too long (at most 107 bytes)";
  const ErrorCase cases[] = {
      {"", "invalid peer address \"\": empty"},
      {"127.0.0.1", "invalid peer address \"127.0.0.1\": missing port"},
      {"127.0.0.1:", "invalid peer address \"127.0.0.1:\": missing port"},
      {":80", "invalid peer address \":80\": missing host"},
      {"127.0.0.1:0", "invalid peer address \"127.0.0.1:0\": bad port \"0\" (1..65535)"},
      {"127.0.0.1:65536",
       "invalid peer address \"127.0.0.1:65536\": bad port \"65536\" (1..65535)"},
      {"127.0.0.1:abc", "invalid peer address \"127.0.0.1:abc\": bad port \"abc\" (1..65535)"},
      {"127.0.0.1:-1", "invalid peer address \"127.0.0.1:-1\": bad port \"-1\" (1..65535)"},
      {"127.0.0.1:+80", "invalid peer address \"127.0.0.1:+80\": bad port \"+80\" (1..65535)"},
      {"127.0.0.1:80 ", "invalid peer address \"127.0.0.1:80 \": bad port \"80 \" (1..65535)"},
      {"127.0.0.1:99999999999",
       "invalid peer address \"127.0.0.1:99999999999\": bad port \"99999999999\" (1..65535)"},
      {"localhost:80",
       "invalid peer address \"localhost:80\": \"localhost\" is not an IP literal; use an "
       "address"},
      {"256.0.0.1:80",
       "invalid peer address \"256.0.0.1:80\": \"256.0.0.1\" is not an IP literal; use an "
       "address"},
      {"127.000.0.1:80",  // glibc's inet_pton refuses leading zeros
       "invalid peer address \"127.000.0.1:80\": \"127.000.0.1\" is not an IP literal; use an "
       "address"},
      {"::1:80",
       "invalid peer address \"::1:80\": put an IPv6 address in brackets, e.g. \"[::1]:80\""},
      {"[::1]", "invalid peer address \"[::1]\": missing port"},
      {"[::1]:", "invalid peer address \"[::1]:\": missing port"},
      {"[::1]80", "invalid peer address \"[::1]80\": expected ':' and a port after ']'"},
      {"[::1:80", "invalid peer address \"[::1:80\": missing ']' after the IPv6 address"},
      {"[::1]:0", "invalid peer address \"[::1]:0\": bad port \"0\" (1..65535)"},
      {"[zz::1]:80", "invalid peer address \"[zz::1]:80\": \"zz::1\" is not an IPv6 address"},
      {"[127.0.0.1]:80",
       "invalid peer address \"[127.0.0.1]:80\": \"127.0.0.1\" is not an IPv6 address"},
      {"[]:80", "invalid peer address \"[]:80\": \"\" is not an IPv6 address"},
      {"unix:", "invalid peer address \"unix:\": empty unix socket path"},
  };
  for (const ErrorCase& c : cases) {
    EXPECT_EQ(Name(c.input), "error: " + std::string(c.message)) << c.input;
  }
  EXPECT_EQ(Name(long_path), long_message);
  EXPECT_EQ(Name("unix:/" + std::string(106, 'a')), "unix:/" + std::string(106, 'a'));
}

}  // namespace
}  // namespace upcheck
