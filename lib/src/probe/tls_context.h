// TlsContext: the OpenSSL client context shared by every https and tls probe of a checker.
//
// Created once per option set (verify on/off, trust store, client certificate, ALPN, the
// lowest TLS version) and shared by the probes, which
// each take their own SSL object from it; OpenSSL reference-counts the SSL_CTX, so a probe
// may outlive the TlsContext that created its SSL. The handshake never fails on a bad
// certificate: like nginx, the probe checks the verification result and the host name
// itself afterwards (see Probe), which yields the original's error texts. No session
// reuse. Not thread-safe to create; the SSL_CTX itself is safe to use from one loop.
#ifndef UPCHECK_PROBE_TLS_CONTEXT_H_
#define UPCHECK_PROBE_TLS_CONTEXT_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/tls_context.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "upcheck/status.h"

namespace upcheck {

class TlsContext {
 public:
  struct Options {
    bool verify = true;               // load a trust store (peer certificates are checked by Probe)
    std::string ca_file{};            // PEM trust store; empty: OpenSSL's default system paths
    std::string cert_file{};          // client certificate chain (PEM); empty: none
    std::string key_file{};           // its key, set with cert_file
    std::vector<std::string> alpn{};  // offered protocols; empty: no ALPN extension
    int min_version = 0;              // TLS1_x_VERSION; 0: OpenSSL's default
  };

  // Error: the trust store could not be loaded ("failed to load ca_file \"x\": ..."), nor
  // the client certificate (see LoadClientCertificate), or a bad ALPN list or version.
  static Result<std::unique_ptr<TlsContext>> Create(const Options& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }
  bool verify() const { return verify_; }

 private:
  TlsContext(SSL_CTX* ctx, bool verify) : ctx_(ctx), verify_(verify) {}
  static Status ConfigureExtras(SSL_CTX* ctx, const Options& options);
  SSL_CTX* ctx_;
  bool verify_;
};

// The oldest OpenSSL error queued on this thread as text, and the queue cleared.
std::string TakeOpenSslError();

}  // namespace upcheck

#endif  // UPCHECK_PROBE_TLS_CONTEXT_H_
