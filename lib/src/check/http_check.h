// The HTTP keys of DESIGN §9 beyond the original's http_req and valid_statuses: `request`
// (built into the bytes a probe sends), expect_status, expect_header, expect_body and
// body_max (compiled into the probe's ResponseRuleTexts). Validation here is shared by
// Checker::Spawn, ValidateCheckOptions and the config parser, so one set of strings says
// what is wrong. Pure; any thread.
#ifndef UPCHECK_CHECK_HTTP_CHECK_H_
#define UPCHECK_CHECK_HTTP_CHECK_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_CHECK)
#error "check/http_check.h belongs to check/, a layer above (see lib/meson.build)"
#endif

#include <string>
#include <string_view>

#include "probe/response_rules.h"
#include "upcheck/check_options.h"
#include "upcheck/status.h"

namespace upcheck {

// `"expect_body" option needs type "http" or "https"`.
std::string HttpKeyNeedsHttpType(std::string_view key);

// The first key of DESIGN §9's HTTP keys present in `o`, or "" when none is.
std::string_view FirstHttpKey(const CheckOptions& o);

// Validates each key that is present; the message names the key:
// `"request" option: bad method "G T" (an HTTP token such as GET or HEAD)`,
// `"expect_body" option: bad regex "a(": missing closing parenthesis at offset 2`.
// REQUIRES: o.type is http or https (FirstHttpKey otherwise says what to refuse).
Status ValidateHttpKeys(const CheckOptions& o);

// The bytes of `request`: "GET /healthz HTTP/1.1", Host, the headers in order,
// Content-Length when there is a body, and Connection: close. `default_host` is used when
// the request names no host. REQUIRES: ValidateHttpKeys passed.
std::string BuildRequest(const CheckRequest& request, const std::string& default_host);

// The response rules of `o`. REQUIRES: ValidateHttpKeys passed.
ResponseRuleTexts ResponseRuleTextsOf(const CheckOptions& o);

}  // namespace upcheck

#endif  // UPCHECK_CHECK_HTTP_CHECK_H_
