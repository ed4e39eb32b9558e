#include "tls_test_cert.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace upcheck::testing {

namespace {

using CertResult = Result<std::unique_ptr<TlsTestCert>>;

std::string OpenSslError(const char* what) {
  std::array<char, 256> buffer{};
  ERR_error_string_n(ERR_get_error(), buffer.data(), buffer.size());
  ERR_clear_error();
  return std::string(what) + ": " + buffer.data();
}

struct Deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(FILE* p) const { std::fclose(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Deleter>;

bool AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext != nullptr && X509_add_ext(cert, ext.get(), -1) == 1;
}

bool AddSubjectAltNames(X509* cert, const std::vector<std::string>& dns_names) {
  if (dns_names.empty()) {
    return true;
  }
  std::string value;
  for (const std::string& name : dns_names) {
    value += (value.empty() ? "DNS:" : ",DNS:") + name;
  }
  return AddExtension(cert, NID_subject_alt_name, value);
}

// The issuer's certificate and key, read back from its files.
bool LoadIssuer(const TlsTestCert& issuer, Owned<X509>* cert, Owned<EVP_PKEY>* key) {
  Owned<FILE> cert_in(std::fopen(issuer.cert_file().c_str(), "r"));
  Owned<FILE> key_in(std::fopen(issuer.key_file().c_str(), "r"));
  if (cert_in == nullptr || key_in == nullptr) {
    return false;
  }
  cert->reset(PEM_read_X509(cert_in.get(), nullptr, nullptr, nullptr));
  key->reset(PEM_read_PrivateKey(key_in.get(), nullptr, nullptr, nullptr));
  return *cert != nullptr && *key != nullptr;
}

}  // namespace

CertResult TlsTestCert::Generate(const Options& options) {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (key == nullptr) {
    return CertResult::Error(OpenSslError("EVP_EC_gen"));
  }
  Owned<X509> cert(X509_new());
  if (cert == nullptr) {
    return CertResult::Error(OpenSslError("X509_new"));
  }
  Owned<X509> issuer_cert;
  Owned<EVP_PKEY> issuer_key;
  if (options.issuer != nullptr && !LoadIssuer(*options.issuer, &issuer_cert, &issuer_key)) {
    return CertResult::Error(OpenSslError("reading the issuer"));
  }
  X509_set_version(cert.get(), 2);  // v3
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), options.issuer != nullptr ? 2 : 1);
  // An expired certificate was valid for two days before it expired.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()),
                  options.valid_days < 0 ? 86400L * (options.valid_days - 2) : -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * options.valid_days);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(options.common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(),
                       issuer_cert != nullptr ? X509_get_subject_name(issuer_cert.get()) : name);
  X509_set_pubkey(cert.get(), key.get());
  if (!AddSubjectAltNames(cert.get(), options.dns_names)) {
    return CertResult::Error(OpenSslError("subjectAltName"));
  }
  if (options.ca && (!AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE") ||
                     !AddExtension(cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"))) {
    return CertResult::Error(OpenSslError("CA extensions"));
  }
  EVP_PKEY* signer = issuer_key != nullptr ? issuer_key.get() : key.get();
  if (X509_sign(cert.get(), signer, EVP_sha256()) == 0) {
    return CertResult::Error(OpenSslError("X509_sign"));
  }

  std::unique_ptr<TlsTestCert> result(new TlsTestCert());
  std::string dir_template = "/tmp/upcheck-tls-XXXXXX";
  if (mkdtemp(dir_template.data()) == nullptr) {
    return CertResult::Error("mkdtemp failed");
  }
  result->dir_ = dir_template;
  result->cert_file_ = result->dir_ + "/cert.pem";
  result->key_file_ = result->dir_ + "/key.pem";
  Owned<FILE> cert_out(std::fopen(result->cert_file_.c_str(), "w"));
  Owned<FILE> key_out(std::fopen(result->key_file_.c_str(), "w"));
  if (cert_out == nullptr || key_out == nullptr ||
      PEM_write_X509(cert_out.get(), cert.get()) != 1 ||
      PEM_write_PrivateKey(key_out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return CertResult::Error("failed to write the certificate files in " + result->dir_);
  }
  return result;
}

TlsTestCert::~TlsTestCert() {
  if (!dir_.empty()) {
    unlink(cert_file_.c_str());
    unlink(key_file_.c_str());
    rmdir(dir_.c_str());
  }
}

}  // namespace upcheck::testing
