// tcp and tls probes (connect only; connect and handshake), and the TLS keys beyond the
// original's (client certificate, ALPN, lowest version), against real loopback servers
// with certificates made at test time: the server's self-signed, the client's issued by a
// test CA that the server trusts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "loopback_http_server.h"
#include "probe/prober.h"
#include "prober_fixture.h"
#include "tls_test_cert.h"

namespace upcheck {
namespace {

using testing::LoopbackClosedPort;
using testing::LoopbackHttpServer;
using testing::LoopbackUnresponsivePort;
using testing::TlsTestCert;

class ProberTcpTlsTest : public ProberFixture {
 protected:
  static void SetUpTestSuite() {
    auto server = TlsTestCert::Generate();
    ASSERT_TRUE(server.ok()) << server.error();
    server_cert_ = std::move(server).value().release();
    auto ca = TlsTestCert::Generate({.common_name = "upcheck test CA", .ca = true});
    ASSERT_TRUE(ca.ok()) << ca.error();
    client_ca_ = std::move(ca).value().release();
    auto client = TlsTestCert::Generate({.common_name = "upcheck-client", .issuer = client_ca_});
    ASSERT_TRUE(client.ok()) << client.error();
    client_cert_ = std::move(client).value().release();
  }
  static void TearDownTestSuite() {
    delete server_cert_;
    delete client_cert_;
    delete client_ca_;
    server_cert_ = client_cert_ = client_ca_ = nullptr;
  }

  static LoopbackHttpServer::Options TlsServer() {
    return {.response = "HTTP/1.1 200 OK\r\n\r\n",
            .tls_cert_file = server_cert_->cert_file(),
            .tls_key_file = server_cert_->key_file()};
  }
  static LoopbackHttpServer::Options MutualTlsServer() {
    LoopbackHttpServer::Options options = TlsServer();
    options.tls_client_ca_file = client_ca_->cert_file();
    return options;
  }

  static ProbeOptions TcpOptions(int64_t timeout_ms = 5000) {
    ProbeOptions options;
    options.scheme = ProbeScheme::kTcp;
    options.timeout_ms = timeout_ms;
    return options;
  }
  // Verified against the server's certificate, SNI and name "localhost".
  static ProbeOptions TlsOptions(ProbeScheme scheme = ProbeScheme::kTls) {
    ProbeOptions options = scheme == ProbeScheme::kHttps ? HttpOptions({{200}}) : TcpOptions();
    options.scheme = scheme;
    options.host = "localhost";
    options.ca_file = server_cert_->cert_file();
    return options;
  }
  static ProbeOptions WithClientCert(ProbeOptions options) {
    options.tls_cert = client_cert_->cert_file();
    options.tls_key = client_cert_->key_file();
    return options;
  }

  static TlsTestCert* server_cert_;
  static TlsTestCert* client_cert_;
  static TlsTestCert* client_ca_;
};

TlsTestCert* ProberTcpTlsTest::server_cert_ = nullptr;
TlsTestCert* ProberTcpTlsTest::client_cert_ = nullptr;
TlsTestCert* ProberTcpTlsTest::client_ca_ = nullptr;

// ---- tcp ------------------------------------------------------------------------------

TEST_F(ProberTcpTlsTest, TcpIsOkOnceTheConnectionIsAcceptedAndSendsNothing) {
  LoopbackHttpServer server;
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(TcpOptions()), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.message, "");
  EXPECT_EQ(result.status_line, "");
  EXPECT_TRUE(server.WaitForConnections(1, std::chrono::seconds(5)));
  EXPECT_EQ(server.requests(), 0);
  EXPECT_EQ(server.last_request(), "");
}

TEST_F(ProberTcpTlsTest, TcpRefused) {
  LoopbackClosedPort closed;
  ASSERT_TRUE(closed.ok());
  ProbeResult result = ProbeOnce(MakeProber(TcpOptions()), closed.address());
  EXPECT_EQ(result.kind, ProbeKind::kConnect);
  EXPECT_EQ(result.message, "failed to connect to " + closed.address() + ": connection refused");
}

TEST_F(ProberTcpTlsTest, TcpTimeout) {
  LoopbackUnresponsivePort port;
  ASSERT_TRUE(port.ok());
  ProbeResult result = ProbeOnce(MakeProber(TcpOptions(100)), port.address());
  EXPECT_EQ(result.kind, ProbeKind::kConnect);
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.message, "failed to connect to " + port.address() + ": timeout");
}

TEST_F(ProberTcpTlsTest, TcpProbesInARow) {
  LoopbackHttpServer server;
  ASSERT_TRUE(server.ok()) << server.error();
  Prober* prober = MakeProber(TcpOptions());
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(ProbeOnce(prober, server.address()).ok());
  }
  EXPECT_TRUE(server.WaitForConnections(5, std::chrono::seconds(5)));
}

// ---- tls ------------------------------------------------------------------------------

TEST_F(ProberTcpTlsTest, TlsIsOkOnceTheHandshakeCompletesAndSendsNothing) {
  LoopbackHttpServer server(TlsServer());
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(TlsOptions()), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.status_line, "");
  EXPECT_TRUE(server.WaitForConnections(1, std::chrono::seconds(5)));
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(ProberTcpTlsTest, TlsWithVerifyRefusesAnUntrustedCertificate) {
  LoopbackHttpServer server(TlsServer());
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeOptions options = TlsOptions();
  options.ca_file = client_cert_->cert_file();  // trusts another certificate
  ProbeResult result = ProbeOnce(MakeProber(options), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kTls);
  EXPECT_EQ(result.message,
            "failed to ssl handshake to " + server.address() + ": 18: self-signed certificate");
}

TEST_F(ProberTcpTlsTest, TlsSniNameMismatch) {
  LoopbackHttpServer server(TlsServer());
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeOptions options = TlsOptions();
  options.host = "example.com";
  ProbeResult result = ProbeOnce(MakeProber(options), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kTls);
  EXPECT_EQ(result.error, "certificate host mismatch");
}

TEST_F(ProberTcpTlsTest, TlsToAPlainServerFailsTheHandshake) {
  // The server takes the ClientHello for a request and answers it in plain HTTP.
  LoopbackHttpServer server({.request_end = ""});
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(TlsOptions()), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kTls);
  EXPECT_EQ(result.error, "handshake failed");
}

// ---- Client certificates --------------------------------------------------------------

TEST_F(ProberTcpTlsTest, MutualTlsWithTheClientCertificateIsOk) {
  LoopbackHttpServer server(MutualTlsServer());
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result =
      ProbeOnce(MakeProber(WithClientCert(TlsOptions(ProbeScheme::kHttps))), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(server.handshake_failures(), 0);
}

TEST_F(ProberTcpTlsTest, MutualTlsWithoutACertificateFails) {
  LoopbackHttpServer server(MutualTlsServer());
  ASSERT_TRUE(server.ok()) << server.error();
  // TLS 1.3: the server refuses the missing certificate after the client's handshake ends,
  // so the https probe learns it reading the answer.
  ProbeResult result = ProbeOnce(MakeProber(TlsOptions(ProbeScheme::kHttps)), server.address());
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(ProberTcpTlsTest, MutualTlsOverTls12FailsTheHandshakeOfATlsProbe) {
  LoopbackHttpServer::Options server_options = MutualTlsServer();
  server_options.tls_max_version = TLS1_2_VERSION;
  LoopbackHttpServer server(server_options);
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult without = ProbeOnce(MakeProber(TlsOptions()), server.address());
  EXPECT_EQ(without.kind, ProbeKind::kTls);
  EXPECT_EQ(without.error, "handshake failed");
  ProbeResult with = ProbeOnce(MakeProber(WithClientCert(TlsOptions())), server.address());
  EXPECT_TRUE(with.ok()) << with.message;
  ProbeOptions untrusted = TlsOptions();  // a certificate the server's CA did not issue
  untrusted.tls_cert = server_cert_->cert_file();
  untrusted.tls_key = server_cert_->key_file();
  ProbeResult refused = ProbeOnce(MakeProber(untrusted), server.address());
  EXPECT_EQ(refused.kind, ProbeKind::kTls);
  EXPECT_EQ(refused.error, "handshake failed");
}

TEST_F(ProberTcpTlsTest, MissingOrBadClientCertificateFailsCreate) {
  ProbeOptions options = TlsOptions();
  options.tls_cert = "/nonexistent/client.pem";
  options.tls_key = client_cert_->key_file();
  auto missing = Prober::Create(loop_.get(), options);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().rfind("failed to load tls_cert \"/nonexistent/client.pem\": ", 0), 0u)
      << missing.error();

  options = WithClientCert(TlsOptions());
  options.tls_key = server_cert_->key_file();  // a key, but not the certificate's
  auto mismatch = Prober::Create(loop_.get(), options);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(
      mismatch.error().rfind("failed to load tls_key \"" + server_cert_->key_file() + "\": ", 0),
      0u)
      << mismatch.error();
  EXPECT_NE(mismatch.error().find("key values mismatch"), std::string::npos) << mismatch.error();

  options = WithClientCert(TlsOptions());
  options.tls_key = server_cert_->cert_file();  // PEM, but no key in it
  auto not_a_key = Prober::Create(loop_.get(), options);
  ASSERT_FALSE(not_a_key.ok());
  EXPECT_EQ(
      not_a_key.error().rfind("failed to load tls_key \"" + server_cert_->cert_file() + "\": ", 0),
      0u)
      << not_a_key.error();
}

// ---- ALPN and versions ----------------------------------------------------------------

TEST_F(ProberTcpTlsTest, AlpnMatch) {
  LoopbackHttpServer::Options server_options = TlsServer();
  server_options.tls_alpn = {"http/1.1"};
  LoopbackHttpServer server(server_options);
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeOptions options = TlsOptions();
  options.alpn = {"h2", "http/1.1"};
  ProbeResult result = ProbeOnce(MakeProber(options), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
}

TEST_F(ProberTcpTlsTest, AlpnMismatchFailsWithItsOwnText) {
  LoopbackHttpServer::Options server_options = TlsServer();
  server_options.tls_alpn = {"h2"};
  LoopbackHttpServer server(server_options);
  ASSERT_TRUE(server.ok()) << server.error();
  for (ProbeScheme scheme : {ProbeScheme::kTls, ProbeScheme::kHttps}) {
    ProbeOptions options = TlsOptions(scheme);
    options.alpn = {"http/1.1", "acme"};
    ProbeResult result = ProbeOnce(MakeProber(options), server.address());
    EXPECT_EQ(result.kind, ProbeKind::kTls);
    EXPECT_EQ(result.message, "failed to ssl handshake to " + server.address() +
                                  ": the server selected no alpn protocol of http/1.1,acme");
  }
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(ProberTcpTlsTest, MinVersionRefusesAnOlderServer) {
  LoopbackHttpServer::Options server_options = TlsServer();
  server_options.tls_max_version = TLS1_2_VERSION;
  LoopbackHttpServer server(server_options);
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeOptions options = TlsOptions();
  options.tls_min_version = TLS1_3_VERSION;
  ProbeResult result = ProbeOnce(MakeProber(options), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kTls);
  EXPECT_EQ(result.error, "handshake failed");
  options.tls_min_version = TLS1_2_VERSION;
  EXPECT_TRUE(ProbeOnce(MakeProber(options), server.address()).ok());
}

}  // namespace
}  // namespace upcheck
