// The TLS keys of a check beyond the original's (tls_cert, tls_key, alpn, tls_min_version):
// their values checked and turned into what TlsContext takes, with the texts that the
// config, the check words and Checker::Spawn all report. Pure functions, any thread.
#ifndef UPCHECK_PROBE_TLS_OPTIONS_H_
#define UPCHECK_PROBE_TLS_OPTIONS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/tls_options.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#include <openssl/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "upcheck/status.h"

namespace upcheck {

// The texts every reader of check options reports (config, check words, Spawn).
// tcp and tls send no request: "\"http_req\" option is not used by type \"tcp\" ...".
std::string TypeSendsNoRequest(std::string_view type);
// A TLS key given to an http or tcp check.
std::string TlsKeyNeedsTlsType(std::string_view key);

// "1.0".."1.3" as OpenSSL's TLS1_x_VERSION. Error: bad "tls_min_version" value "x" (...).
Result<int> ParseTlsMinVersion(std::string_view text);

// ALPN protocol names: at least one, each 1 to 255 bytes (RFC 7301).
Status CheckAlpnNames(const std::vector<std::string>& names);

// Loads the client certificate chain and its key into `ctx` and checks that they match.
// Errors name the file and OpenSSL's reason: failed to load tls_cert "x": ...
Status LoadClientCertificate(SSL_CTX* ctx, const std::string& cert_file,
                             const std::string& key_file);

// The same on a scratch context, for validating a configuration before anything runs.
Status CheckClientCertificate(const std::string& cert_file, const std::string& key_file);

// After a handshake that offered `offered` (non-empty): empty if the server picked one of
// them, else the probe's error text.
std::string AlpnMismatch(const SSL* ssl, const std::vector<std::string>& offered);

}  // namespace upcheck

#endif  // UPCHECK_PROBE_TLS_OPTIONS_H_
