#include "probe/tls_context.h"

#include <openssl/err.h>

#include <array>

#include "probe/tls_options.h"

namespace upcheck {

std::string TakeOpenSslError() {
  unsigned long code = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  ERR_clear_error();
  if (code == 0) {
    return "unknown error";
  }
  std::array<char, 256> buffer{};
  ERR_error_string_n(code, buffer.data(), buffer.size());
  return buffer.data();
}

Result<std::unique_ptr<TlsContext>> TlsContext::Create(const Options& options) {
  using R = Result<std::unique_ptr<TlsContext>>;
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    return R::Error("failed to create SSL context: " + TakeOpenSslError());
  }
  std::unique_ptr<TlsContext> context(new TlsContext(ctx, options.verify));
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // Never abort the handshake on a certificate problem: Probe reads the verification
  // result after the handshake, as nginx does, to report "<code>: <reason>".
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  if (options.verify) {
    int loaded = options.ca_file.empty()
                     ? SSL_CTX_set_default_verify_paths(ctx)
                     : SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr);
    if (loaded != 1) {
      return R::Error(options.ca_file.empty()
                          ? "failed to load the default trust store: " + TakeOpenSslError()
                          : "failed to load ca_file \"" + options.ca_file +
                                "\": " + TakeOpenSslError());
    }
  }
  if (Status st = ConfigureExtras(ctx, options); !st) return st;
  return context;
}

// The keys beyond the original's; without them the context is the original's.
Status TlsContext::ConfigureExtras(SSL_CTX* ctx, const Options& options) {
  if (!options.cert_file.empty() || !options.key_file.empty()) {
    if (Status st = LoadClientCertificate(ctx, options.cert_file, options.key_file); !st) {
      return st;
    }
  }
  if (!options.alpn.empty()) {
    if (Status st = CheckAlpnNames(options.alpn); !st) return st;
    std::string wire;  // RFC 7301: each name prefixed by its length
    for (const std::string& name : options.alpn) {
      wire += static_cast<char>(name.size());
      wire += name;
    }
    if (SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned>(wire.size())) != 0) {
      return Status::Error("failed to set alpn: " + TakeOpenSslError());
    }
  }
  if (options.min_version != 0 && SSL_CTX_set_min_proto_version(ctx, options.min_version) != 1) {
    return Status::Error("failed to set tls_min_version: " + TakeOpenSslError());
  }
  return Status::Ok();
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

}  // namespace upcheck
