// [upstream.check] with the keys beyond the original's (DESIGN §9): type tcp and tls, and
// the TLS keys, each wrong value reported at file:line:key with Spawn's text.
#include <gtest/gtest.h>

#include <string>

#include "tls_test_cert.h"
#include "upcheck/config.h"

namespace upcheck {
namespace {

using testing::TlsTestCert;

std::string CheckErrorOf(std::string_view check_lines) {
  std::string text = "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:80\"]\n[upstream.check]\n";
  text += check_lines;
  const Result<Config> config = ParseConfig(text, "upcheck.toml");
  return config.ok() ? "(no error)" : config.error();
}

TEST(ConfigTlsTest, TcpAndTlsNeedNoRequest) {
  EXPECT_EQ(CheckErrorOf("type = \"tcp\"\n"), "(no error)");
  EXPECT_EQ(CheckErrorOf("type = \"tls\"\nhost = \"localhost\"\n"), "(no error)");
  EXPECT_EQ(CheckErrorOf("type = \"tcp\"\nhttp_req = \"x\"\n"),
            "upcheck.toml:6:12: upstream[0].check.http_req: \"http_req\" option is not used by "
            "type \"tcp\" (it sends no request)");
  EXPECT_EQ(CheckErrorOf("type = \"tls\"\nhttp_req = \"x\"\n"),
            "upcheck.toml:6:12: upstream[0].check.http_req: \"http_req\" option is not used by "
            "type \"tls\" (it sends no request)");
  EXPECT_EQ(CheckErrorOf("type = \"udp\"\n"),
            "upcheck.toml:5:8: upstream[0].check.type: only \"http\" and \"https\" type are "
            "supported right now");
}

TEST(ConfigTlsTest, TlsKeysParse) {
  const Result<Config> config = ParseConfig(
      "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:80\"]\n[upstream.check]\n"
      "type = \"tls\"\nhost = \"h\"\nalpn = [\"h2\", \"http/1.1\"]\ntls_min_version = \"1.2\"\n",
      "upcheck.toml");
  ASSERT_TRUE(config.ok()) << config.error();
  const CheckOptions& check = *config->upstreams[0].check;
  EXPECT_EQ(check.type, "tls");
  EXPECT_EQ(check.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(check.tls_min_version, "1.2");
  EXPECT_FALSE(check.http_req.has_value());
}

TEST(ConfigTlsTest, EachKeyHasItsError) {
  const std::string head = "type = \"https\"\nhttp_req = \"x\"\nhost = \"h\"\n";
  EXPECT_EQ(CheckErrorOf(head + "tls_min_version = \"1.4\"\n"),
            "upcheck.toml:8:19: upstream[0].check.tls_min_version: bad \"tls_min_version\" value "
            "\"1.4\" (1.0, 1.1, 1.2 or 1.3)");
  EXPECT_EQ(CheckErrorOf(head + "alpn = []\n"),
            "upcheck.toml:8:8: upstream[0].check.alpn: \"alpn\" must list at least one protocol");
  EXPECT_EQ(CheckErrorOf(head + "alpn = [\"\"]\n"),
            "upcheck.toml:8:8: upstream[0].check.alpn: bad \"alpn\" protocol \"\" (1 to 255 "
            "bytes)");
  EXPECT_EQ(CheckErrorOf(head + "alpn = \"h2\"\n"),
            "upcheck.toml:8:8: upstream[0].check.alpn: expected an array, got string \"h2\"");
  EXPECT_EQ(CheckErrorOf(head + "alpn = [2]\n"),
            "upcheck.toml:8:9: upstream[0].check.alpn[0]: expected a string, got integer 2");
  EXPECT_EQ(CheckErrorOf(head + "tls_cert = \"\"\ntls_key = \"k\"\n"),
            "upcheck.toml:8:12: upstream[0].check.tls_cert: must not be empty (a PEM file path)");
  EXPECT_EQ(CheckErrorOf(head + "tls_cert = \"c.pem\"\n"),
            "upcheck.toml:8:12: upstream[0].check.tls_cert: \"tls_cert\" option requires "
            "\"tls_key\"");
  EXPECT_EQ(CheckErrorOf(head + "tls_key = \"k.pem\"\n"),
            "upcheck.toml:8:11: upstream[0].check.tls_key: \"tls_key\" option requires "
            "\"tls_cert\"");
  EXPECT_EQ(CheckErrorOf("type = \"http\"\nhttp_req = \"x\"\nalpn = [\"h2\"]\n"),
            "upcheck.toml:7:8: upstream[0].check.alpn: \"alpn\" option needs type \"https\" or "
            "\"tls\"");
  EXPECT_EQ(CheckErrorOf("type = \"tcp\"\ntls_min_version = \"1.2\"\n"),
            "upcheck.toml:6:19: upstream[0].check.tls_min_version: \"tls_min_version\" option "
            "needs type \"https\" or \"tls\"");
}

TEST(ConfigTlsTest, ClientCertificateIsLoadedLikeTheWorkersDo) {
  auto cert = TlsTestCert::Generate();
  ASSERT_TRUE(cert.ok()) << cert.error();
  const std::string head = "type = \"tls\"\nhost = \"h\"\n";
  const std::string good = head + "tls_cert = \"" + (*cert)->cert_file() + "\"\ntls_key = \"" +
                           (*cert)->key_file() + "\"\n";
  EXPECT_EQ(CheckErrorOf(good), "(no error)");

  const std::string missing =
      CheckErrorOf(head + "tls_cert = \"/nonexistent/c.pem\"\ntls_key = \"/nonexistent/k.pem\"\n");
  const std::string prefix =
      "upcheck.toml:7:12: upstream[0].check.tls_cert: failed to load tls_cert "
      "\"/nonexistent/c.pem\": ";
  EXPECT_EQ(missing.substr(0, prefix.size()), prefix) << missing;

  // The certificate file in place of the key: PEM, but no key in it.
  const std::string not_a_key = CheckErrorOf(head + "tls_cert = \"" + (*cert)->cert_file() +
                                             "\"\ntls_key = \"" + (*cert)->cert_file() + "\"\n");
  const std::string key_prefix =
      "upcheck.toml:8:11: upstream[0].check.tls_key: failed to load "
      "tls_key \"" +
      (*cert)->cert_file() + "\": ";
  EXPECT_EQ(not_a_key.substr(0, key_prefix.size()), key_prefix) << not_a_key;

  EXPECT_EQ(CheckErrorOf(head + "tls_cert = \"/\"\ntls_key = \"/\"\n"),
            "upcheck.toml:7:12: upstream[0].check.tls_cert: failed to load tls_cert \"/\": is a "
            "directory");
  // Not loaded when the files are skipped (upcheck-status and the like).
  std::string text =
      "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:80\"]\n[upstream.check]\n" + head +
      "tls_cert = \"/nonexistent/c.pem\"\ntls_key = \"/nonexistent/k.pem\"\n";
  EXPECT_TRUE(ParseConfig(text, "upcheck.toml", ConfigFiles::kSkip).ok());
}

TEST(ConfigTlsTest, TlsWithoutHostWarns) {
  const Result<Config> config = ParseConfig(
      "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:80\"]\n[upstream.check]\n"
      "type = \"tls\"\n",
      "upcheck.toml");
  ASSERT_TRUE(config.ok()) << config.error();
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_EQ(config->warnings[0],
            "upcheck.toml:5:8: warning: upstream[0].check.type: tls without \"host\": no SNI is "
            "sent, and the certificate's name is not verified (only its chain)");
}

TEST(ConfigTlsTest, DumpWritesTheNewKeys) {
  const Result<Config> config = ParseConfig(
      "[[upstream]]\nname = \"u\"\nprimary = [\"127.0.0.1:80\"]\n[upstream.check]\n"
      "type = \"tls\"\nhost = \"h\"\nalpn = [\"h2\"]\ntls_min_version = \"1.3\"\n",
      "upcheck.toml");
  ASSERT_TRUE(config.ok()) << config.error();
  const std::string dump = DumpConfig(*config);
  EXPECT_NE(dump.find("alpn = [\"h2\"]\n"), std::string::npos) << dump;
  EXPECT_NE(dump.find("tls_min_version = \"1.3\"\n"), std::string::npos) << dump;
}

}  // namespace
}  // namespace upcheck
