// The HTTP keys of [upstream.check] beyond the original's (DESIGN §9): request,
// expect_status, expect_header, expect_body and body_max. Errors carry file:line:key with
// the texts Checker::Spawn and the check words report (check/http_check.h), each at the key,
// header or list element that is wrong. Config parsing only; pure.
#ifndef UPCHECK_CONFIG_CHECK_HTTP_H_
#define UPCHECK_CONFIG_CHECK_HTTP_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CONFIG)
#error "config/check_http.h belongs to config/, a layer above (see lib/meson.build)"
#endif

#include <string_view>

#include "config/toml_reader.h"
#include "upcheck/check_options.h"

namespace upcheck::config {

// The HTTP keys, for RejectUnknownKeys and the type checks.
inline constexpr std::string_view kHttpKeys[] = {"request", "expect_status", "expect_header",
                                                 "expect_body", "body_max"};

// The keys whose values are wrong on their own (type, unknown sub-key, bad method, header,
// status rule, regex or size). A key whose table is present is kept present, even with
// errors inside, so the checks that follow do not also call it missing.
void ReadCheckHttp(TableReader& t, CheckOptions& check);

// What depends on the other keys, after the type passed: an HTTP key with a tcp or tls
// check, http_req with request, body_max without expect_body. Reports the first failure
// only, as Spawn does; returns false when it reported one.
bool ValidateCheckHttp(TableReader& t, const CheckOptions& check);

// Valid but rarely meant: a body_max above 1m (held per peer probed at once), expect_status
// beside valid_statuses (both apply), expect_body with a HEAD request (no body comes).
void WarnAboutCheckHttp(TableReader& t, const CheckOptions& check);

}  // namespace upcheck::config

#endif  // UPCHECK_CONFIG_CHECK_HTTP_H_
