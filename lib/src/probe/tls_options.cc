#include "probe/tls_options.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include "probe/tls_context.h"

namespace upcheck {

namespace {

// A FIFO or a device would block OpenSSL's read, at config time and in every worker.
std::string NotARegularFile(const std::string& file) {
  struct stat st {};
  if (stat(file.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file";
  }
  return {};
}

std::string LoadError(std::string_view key, const std::string& file, const std::string& reason) {
  return "failed to load " + std::string(key) + " \"" + file + "\": " + reason;
}

}  // namespace

std::string TypeSendsNoRequest(std::string_view type) {
  return "\"http_req\" option is not used by type \"" + std::string(type) +
         "\" (it sends no request)";
}

std::string TlsKeyNeedsTlsType(std::string_view key) {
  return "\"" + std::string(key) + "\" option needs type \"https\" or \"tls\"";
}

Result<int> ParseTlsMinVersion(std::string_view text) {
  if (text == "1.0") return TLS1_VERSION;
  if (text == "1.1") return TLS1_1_VERSION;
  if (text == "1.2") return TLS1_2_VERSION;
  if (text == "1.3") return TLS1_3_VERSION;
  return Result<int>::Error("bad \"tls_min_version\" value \"" + std::string(text) +
                            "\" (1.0, 1.1, 1.2 or 1.3)");
}

Status CheckAlpnNames(const std::vector<std::string>& names) {
  if (names.empty()) return Status::Error("\"alpn\" must list at least one protocol");
  for (const std::string& name : names) {
    if (name.empty() || name.size() > 255) {
      return Status::Error("bad \"alpn\" protocol \"" + name + "\" (1 to 255 bytes)");
    }
  }
  return Status::Ok();
}

Status LoadClientCertificate(SSL_CTX* ctx, const std::string& cert_file,
                             const std::string& key_file) {
  ERR_clear_error();
  if (std::string bad = NotARegularFile(cert_file); !bad.empty()) {
    return Status::Error(LoadError("tls_cert", cert_file, bad));
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return Status::Error(LoadError("tls_cert", cert_file, TakeOpenSslError()));
  }
  if (std::string bad = NotARegularFile(key_file); !bad.empty()) {
    return Status::Error(LoadError("tls_key", key_file, bad));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Status::Error(LoadError("tls_key", key_file, TakeOpenSslError()));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status::Error("tls_key \"" + key_file + "\" does not match tls_cert \"" + cert_file +
                         "\": " + TakeOpenSslError());
  }
  return Status::Ok();
}

Status CheckClientCertificate(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return Status::Error("failed to create SSL context: " + TakeOpenSslError());
  Status status = LoadClientCertificate(ctx, cert_file, key_file);
  SSL_CTX_free(ctx);
  return status;
}

std::string AlpnMismatch(const SSL* ssl, const std::vector<std::string>& offered) {
  const unsigned char* selected = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl, &selected, &length);
  if (length > 0) return {};
  std::string list;
  for (const std::string& name : offered) list += (list.empty() ? "" : ",") + name;
  return "the server selected no alpn protocol of " + list;
}

}  // namespace upcheck
