#include "probe/tls_context.h"

#include <gtest/gtest.h>

#include "tls_test_cert.h"

namespace upcheck {
namespace {

TEST(TlsContextTest, LoadsTheSystemTrustStoreByDefault) {
  auto context = TlsContext::Create({.verify = true, .ca_file = ""});
  ASSERT_TRUE(context.ok()) << context.error();
  EXPECT_NE((*context)->get(), nullptr);
  EXPECT_TRUE((*context)->verify());
}

TEST(TlsContextTest, LoadsACaFile) {
  auto cert = testing::TlsTestCert::Generate();
  ASSERT_TRUE(cert.ok()) << cert.error();
  auto context = TlsContext::Create({.verify = true, .ca_file = (*cert)->cert_file()});
  EXPECT_TRUE(context.ok()) << context.error();
}

TEST(TlsContextTest, MissingCaFileIsAnError) {
  auto context = TlsContext::Create({.verify = true, .ca_file = "/nonexistent/ca.pem"});
  ASSERT_FALSE(context.ok());
  EXPECT_EQ(context.error().rfind("failed to load ca_file \"/nonexistent/ca.pem\": ", 0), 0u)
      << context.error();
}

TEST(TlsContextTest, CaFileIsIgnoredWithoutVerify) {
  auto context = TlsContext::Create({.verify = false, .ca_file = "/nonexistent/ca.pem"});
  EXPECT_TRUE(context.ok()) << context.error();
}

}  // namespace
}  // namespace upcheck
