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
      {"127.0.0.1:01235", "127.0.0.1:1235"},
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
  const std::string long_message =
      "error: bad peer address \"" + long_path + "\" (unix socket path longer than 107 bytes)";
  const ErrorCase cases[] = {
      {"", "bad peer address \"\" (expected IPv4:port, [IPv6]:port or unix:/path)"},
      {"127.0.0.1",
       "bad peer address \"127.0.0.1\" (expected IPv4:port, [IPv6]:port or unix:/path)"},
      {"127.0.0.1:",
       "bad peer address \"127.0.0.1:\" (the port must be a number between 1 and 65535)"},
      {":80", "bad peer address \":80\" (expected IPv4:port, [IPv6]:port or unix:/path)"},
      {"127.0.0.1:0",
       "bad peer address \"127.0.0.1:0\" (the port must be a number between 1 and 65535)"},
      {"127.0.0.1:65536",
       "bad peer address \"127.0.0.1:65536\" (the port must be a number between 1 and 65535)"},
      {"127.0.0.1:012354",
       "bad peer address \"127.0.0.1:012354\" (the port must be a number between 1 and 65535)"},
      {"127.0.0.1:abc",
       "bad peer address \"127.0.0.1:abc\" (the port must be a number between 1 and 65535)"},
      {"127.0.0.1:-1",
       "bad peer address \"127.0.0.1:-1\" (the port must be a number between 1 and 65535)"},
      {"127.0.0.1:+80",
       "bad peer address \"127.0.0.1:+80\" (the port must be a number between 1 and 65535)"},
      {"127.0.0.1:80 ",
       "bad peer address \"127.0.0.1:80 \" (the port must be a number between 1 and 65535)"},
      {"127.0.0.1:99999999999",
       "bad peer address \"127.0.0.1:99999999999\" (the port must be a number between 1 and "
       "65535)"},
      {"localhost:80",
       "bad peer address \"localhost:80\" (host names are not resolved; use an IPv4 or [IPv6] "
       "address)"},
      {"256.0.0.1:80", "bad peer address \"256.0.0.1:80\" (not an IPv4 address)"},
      {"127.000.0.1:80",  // glibc's inet_pton refuses leading zeros
       "bad peer address \"127.000.0.1:80\" (not an IPv4 address)"},
      {"::1:80",
       "bad peer address \"::1:80\" (put an IPv6 address in brackets, e.g. \"[::1]:80\")"},
      {"[::1]", "bad peer address \"[::1]\" (expected IPv4:port, [IPv6]:port or unix:/path)"},
      {"[::1]:", "bad peer address \"[::1]:\" (the port must be a number between 1 and 65535)"},
      {"[::1]80", "bad peer address \"[::1]80\" (expected IPv4:port, [IPv6]:port or unix:/path)"},
      {"[::1:80", "bad peer address \"[::1:80\" (expected IPv4:port, [IPv6]:port or unix:/path)"},
      {"[::1]:0", "bad peer address \"[::1]:0\" (the port must be a number between 1 and 65535)"},
      {"[zz::1]:80", "bad peer address \"[zz::1]:80\" (not an IPv6 address inside the brackets)"},
      {"[127.0.0.1]:80",
       "bad peer address \"[127.0.0.1]:80\" (not an IPv6 address inside the brackets)"},
      {"[]:80", "bad peer address \"[]:80\" (not an IPv6 address inside the brackets)"},
      {"unix:",
       "bad peer address \"unix:\" (unix: needs an absolute path, e.g. \"unix:/run/app.sock\")"},
      {"unix:relative.sock",
       "bad peer address \"unix:relative.sock\" (unix: needs an absolute path, e.g. "
       "\"unix:/run/app.sock\")"},
      {"unix:/run/a\tb.sock",
       "bad peer address \"unix:/run/a\tb.sock\" (control character in the path)"},
      {"a b:80", "bad peer address \"a b:80\" (expected IPv4:port, [IPv6]:port or unix:/path)"},
  };
  for (const ErrorCase& c : cases) {
    EXPECT_EQ(Name(c.input), "error: " + std::string(c.message)) << c.input;
  }
  EXPECT_EQ(Name(long_path), long_message);
  EXPECT_EQ(Name("unix:/" + std::string(106, 'a')), "unix:/" + std::string(106, 'a'));
  EXPECT_EQ(Name(std::string("127.0.0.1\0x:80", 13)),
            "error: bad peer address \"" + std::string("127.0.0.1\0x:80", 13) +
                "\" (expected IPv4:port, [IPv6]:port or unix:/path)");
}

}  // namespace
}  // namespace upcheck
