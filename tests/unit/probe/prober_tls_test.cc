// https probes against a real TLS server on loopback, with a certificate made at test time
// (CN=localhost, no subjectAltName, like the original's test certificate).
#include <gtest/gtest.h>

#include <string>

#include "loopback_http_server.h"
#include "probe/prober.h"
#include "prober_fixture.h"
#include "tls_test_cert.h"

namespace upcheck {
namespace {

using std::chrono::seconds;
using testing::Family;
using testing::LoopbackHttpServer;
using testing::TlsTestCert;
using Mode = LoopbackHttpServer::Mode;

class ProberTlsTest : public ProberFixture {
 protected:
  static void SetUpTestSuite() {
    auto cert = TlsTestCert::Generate();
    ASSERT_TRUE(cert.ok()) << cert.error();
    cert_ = std::move(cert).value().release();
  }
  static void TearDownTestSuite() {
    delete cert_;
    cert_ = nullptr;
  }

  static LoopbackHttpServer::Options TlsServer(std::string response = "HTTP/1.1 200 OK\r\n\r\n",
                                               Family family = Family::kV4) {
    return {.family = family,
            .response = std::move(response),
            .tls_cert_file = cert_->cert_file(),
            .tls_key_file = cert_->key_file()};
  }

  static ProbeOptions HttpsOptions(bool verify, std::string host = "", bool with_ca = true,
                                   int64_t timeout_ms = 5000) {
    ProbeOptions options = HttpOptions({{200}}, timeout_ms);
    options.scheme = ProbeScheme::kHttps;
    options.ssl_verify = verify;
    options.host = std::move(host);
    options.ca_file = with_ca ? cert_->cert_file() : "";
    return options;
  }

  static TlsTestCert* cert_;
};

TlsTestCert* ProberTlsTest::cert_ = nullptr;

TEST_F(ProberTlsTest, VerifyOffIsOk) {
  LoopbackHttpServer server(TlsServer());
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpsOptions(false, "", false)), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(server.last_request(), kRequest);
}

TEST_F(ProberTlsTest, VerifyOnWithoutTheCaIsSelfSigned) {
  LoopbackHttpServer server(TlsServer());
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result =
      ProbeOnce(MakeProber(HttpsOptions(true, "localhost", false)), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kTls);
  EXPECT_EQ(result.error, "18: self-signed certificate");
  EXPECT_EQ(result.message,
            "failed to ssl handshake to " + server.address() + ": 18: self-signed certificate");
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(ProberTlsTest, VerifyOnWithTheCaAndMatchingCommonNameIsOk) {
  LoopbackHttpServer server(TlsServer());
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpsOptions(true, "localhost")), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
}

TEST_F(ProberTlsTest, VerifyOnWithoutHostChecksOnlyTheChain) {
  LoopbackHttpServer server(TlsServer());
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpsOptions(true, "")), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
}

TEST_F(ProberTlsTest, HostMismatch) {
  LoopbackHttpServer server(TlsServer());
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpsOptions(true, "example.com")), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kTls);
  EXPECT_EQ(result.message,
            "failed to ssl handshake to " + server.address() + ": certificate host mismatch");
}

TEST_F(ProberTlsTest, HostIsIgnoredWhenVerifyIsOff) {
  LoopbackHttpServer server(TlsServer());
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpsOptions(false, "example.com")), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
}

TEST_F(ProberTlsTest, SubjectAltNamesTakePrecedenceOverTheCommonName) {
  auto cert = TlsTestCert::Generate({.common_name = "localhost", .dns_names = {"example.org"}});
  ASSERT_TRUE(cert.ok()) << cert.error();
  LoopbackHttpServer server(
      {.tls_cert_file = (*cert)->cert_file(), .tls_key_file = (*cert)->key_file()});
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeOptions options = HttpsOptions(true, "example.org");
  options.ca_file = (*cert)->cert_file();
  Prober* san = MakeProber(options);
  EXPECT_TRUE(ProbeOnce(san, server.address()).ok());
  options.host = "localhost";
  EXPECT_EQ(ProbeOnce(MakeProber(options), server.address()).error, "certificate host mismatch");
}

TEST_F(ProberTlsTest, TlsToAPlainHttpServerFailsTheHandshake) {
  // The plain server answers the ClientHello with an HTTP response.
  LoopbackHttpServer server({.response = "HTTP/1.1 400 Bad Request\r\n\r\n", .request_end = ""});
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpsOptions(false)), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kTls);
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.message,
            "failed to ssl handshake to " + server.address() + ": handshake failed");
}

TEST_F(ProberTlsTest, PeerClosingDuringTheHandshakeFailsIt) {
  LoopbackHttpServer server({.mode = Mode::kCloseAtAccept});
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpsOptions(false)), server.address());
  EXPECT_EQ(result.message,
            "failed to ssl handshake to " + server.address() + ": handshake failed");
}

TEST_F(ProberTlsTest, SilentPeerTimesOutTheHandshake) {
  LoopbackHttpServer server({.mode = Mode::kHang});  // plain: waits for "\r\n\r\n" forever
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpsOptions(false, "", false, 100)), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kTls);
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.message, "failed to ssl handshake to " + server.address() + ": timeout");
}

TEST_F(ProberTlsTest, PlainHttpToTheTlsPortGetsPastSendAndFailsToReceive) {
  LoopbackHttpServer server(TlsServer());
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpOptions({{200}})), server.address());
  EXPECT_EQ(result.kind, ProbeKind::kReceive) << result.message;
  EXPECT_TRUE(result.error == "closed" || result.error == "connection reset by peer")
      << result.error;
  EXPECT_TRUE(server.WaitForConnections(1, seconds(5)));
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(ProberTlsTest, StatusChecksWorkOverTls) {
  LoopbackHttpServer server(TlsServer("HTTP/1.1 404 Not Found\r\n\r\n"));
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpsOptions(true, "localhost")), server.address());
  EXPECT_EQ(result.message, "bad status code from " + server.address() + ": 404");
}

TEST_F(ProberTlsTest, CloseBeforeLfOverTlsIsClosed) {
  LoopbackHttpServer::Options options = TlsServer();
  options.mode = Mode::kCloseBeforeLf;
  LoopbackHttpServer server(options);
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpsOptions(false)), server.address());
  EXPECT_EQ(result.message, "failed to receive status line from " + server.address() + ": closed");
}

TEST_F(ProberTlsTest, HangingTlsPeerTimesOutTheRead) {
  LoopbackHttpServer::Options options = TlsServer();
  options.mode = Mode::kHang;
  LoopbackHttpServer server(options);
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpsOptions(false, "", false, 150)), server.address());
  EXPECT_EQ(result.message, "failed to receive status line from " + server.address() + ": timeout");
}

TEST_F(ProberTlsTest, OverAUnixSocket) {
  LoopbackHttpServer server(TlsServer("HTTP/1.1 200 OK\r\n\r\n", Family::kUnix));
  ASSERT_TRUE(server.ok()) << server.error();
  ProbeResult result = ProbeOnce(MakeProber(HttpsOptions(true, "localhost")), server.address());
  EXPECT_TRUE(result.ok()) << result.message;
}

TEST_F(ProberTlsTest, ManyConcurrentHandshakes) {
  LoopbackHttpServer server(TlsServer());
  ASSERT_TRUE(server.ok()) << server.error();
  Prober* prober = MakeProber(HttpsOptions(true, "localhost"));
  auto target = ProbeTargetFor(server.address());
  ASSERT_TRUE(target.ok());
  constexpr int kProbes = 50;
  int ok = 0;
  int done = 0;
  for (int i = 0; i < kProbes; ++i) {
    ASSERT_TRUE(prober
                    ->Start(*target,
                            [&](const ProbeResult& r) {
                              ++done;
                              ok += r.ok() ? 1 : 0;
                              EXPECT_TRUE(r.ok()) << r.message;
                            })
                    .ok());
  }
  EXPECT_TRUE(loop_.RunUntil([&] { return done == kProbes; }, seconds(60)));
  EXPECT_EQ(ok, kProbes);
}

TEST_F(ProberTlsTest, ShutdownDuringHandshakesClosesClean) {
  LoopbackHttpServer server({.mode = Mode::kHang});
  ASSERT_TRUE(server.ok()) << server.error();
  Prober* prober = MakeProber(HttpsOptions(false, "", false, 30000));
  auto target = ProbeTargetFor(server.address());
  int calls = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(prober->Start(*target, [&](const ProbeResult&) { ++calls; }).ok());
  }
  EXPECT_TRUE(loop_.RunUntil([&] { return server.connections() == 3; }));
  prober->Shutdown();
  EXPECT_TRUE(loop_.Drain());
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace upcheck
