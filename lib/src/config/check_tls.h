// The TLS keys of [upstream.check] beyond the original's (DESIGN §9): tls_cert, tls_key,
// alpn and tls_min_version. Errors carry file:line:key like the other keys, with the
// texts Checker::Spawn and the check words report (probe/tls_options.h). Config parsing
// only; pure but for reading the client certificate files with ConfigFiles::kLoad.
#ifndef UPCHECK_CONFIG_CHECK_TLS_H_
#define UPCHECK_CONFIG_CHECK_TLS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CONFIG)
#error "config/check_tls.h belongs to config/, a layer above (see lib/meson.build)"
#endif

#include "config/toml_reader.h"
#include "upcheck/check_options.h"
#include "upcheck/config.h"

namespace upcheck::config {

// The keys whose values are wrong on their own (type, empty, bad name or version).
void ReadCheckTls(TableReader& t, CheckOptions& check);

// What depends on the other keys, after the type passed: a TLS key with an http or tcp
// check, one of tls_cert and tls_key without the other, and (kLoad) the files themselves,
// loaded as each worker will load them. Reports the first failure only, as Spawn does.
void ValidateCheckTls(TableReader& t, const CheckOptions& check, ConfigFiles files);

}  // namespace upcheck::config

#endif  // UPCHECK_CONFIG_CHECK_TLS_H_
