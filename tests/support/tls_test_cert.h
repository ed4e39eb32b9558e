// TlsTestCert: a certificate and its key, made at test time with OpenSSL: self-signed, a
// CA, or issued by such a CA (client certificates for mTLS tests).
//
// Generate() writes cert.pem and key.pem into a fresh temporary directory, removed again
// by the destructor. The default is what the original's tests use: self-signed, subject
// CN=localhost and no subjectAltName, so a client verifying host "localhost" must match
// the CN.
// Usable from any thread; each object owns its own files.
#ifndef UPCHECK_TESTS_SUPPORT_TLS_TEST_CERT_H_
#define UPCHECK_TESTS_SUPPORT_TLS_TEST_CERT_H_

#include <memory>
#include <string>
#include <vector>

#include "upcheck/status.h"

namespace upcheck::testing {

class TlsTestCert {
 public:
  struct Options {
    std::string common_name = "localhost";
    std::vector<std::string> dns_names{};  // subjectAltName DNS entries; none by default
    int valid_days = 2;                    // < 0: expired that many days ago
    bool ca = false;  // basicConstraints CA:TRUE and keyCertSign: may issue others
    // Signed by this CA's key and named after it (it must outlive Generate); nullptr:
    // self-signed.
    const TlsTestCert* issuer = nullptr;
  };

  // An EC P-256 key and a self-signed X.509 v3 certificate. Error: OpenSSL's.
  static Result<std::unique_ptr<TlsTestCert>> Generate(const Options& options);
  static Result<std::unique_ptr<TlsTestCert>> Generate() { return Generate(Options{}); }
  ~TlsTestCert();
  TlsTestCert(const TlsTestCert&) = delete;
  TlsTestCert& operator=(const TlsTestCert&) = delete;

  const std::string& cert_file() const { return cert_file_; }  // PEM; also a CA file
  const std::string& key_file() const { return key_file_; }    // PEM, unencrypted
  const std::string& dir() const { return dir_; }

 private:
  TlsTestCert() = default;
  std::string dir_;
  std::string cert_file_;
  std::string key_file_;
};

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_SUPPORT_TLS_TEST_CERT_H_
