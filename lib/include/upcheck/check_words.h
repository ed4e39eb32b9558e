// ParseCheckWords: a checker's options as `key=value` words, the way nginx's
// `upcheck_check type=http interval=2000 ...` directive writes them (DESIGN.md §8).
//
// The keys are spawn_checker's (type, http_req, interval, timeout, fall, rise,
// valid_statuses, concurrency, port, host, ssl_verify, ca_file), those of DESIGN §9
// (tls_cert, tls_key, alpn, tls_min_version; expect_status, expect_header, expect_body,
// body_max; and `request` as request_method, request_path, request_host, request_header and
// request_body) and §10's fastinter, downinter and jitter (integers). Only the syntax is checked
// here; the meaning, the defaults and the original's strings are Checker::Spawn's. shm and upstream
// are not words: whoever spawns the checker fills them in. Pure; any thread.
#ifndef UPCHECK_CHECK_WORDS_H_
#define UPCHECK_CHECK_WORDS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_EMBED)
#error "upcheck/check_words.h belongs to embed/, a layer above (see lib/meson.build)"
#endif

#include <span>
#include <string_view>

#include "upcheck/check_options.h"
#include "upcheck/status.h"

namespace upcheck {

// Each word is `key=value`; the value is everything after the first '=', taken as is (a
// request's CR LF included). Integers are decimal; valid_statuses is a comma list, and
// `valid_statuses=` alone is the empty list; alpn is a comma list of names (`alpn=h2,http/1.1`);
// ssl_verify is `true` or `false`. expect_status is a comma list of rules
// (`expect_status=2xx,!503`); body_max a size as [shm] size (`64k`); expect_header is
// `Name:regex`, split at the first ':'. Any request_* word makes `request` present;
// request_header is `Name: value` (split at the first ':', the value's leading blanks
// dropped), the one word that may repeat, each adding a header in order. No words at
// all give empty options (Spawn then answers `"type" option required`). Errors name the
// word: `unknown option "tpye"`, `option "fall": expected an integer, got "x"`,
// `option "rise" given twice`, `expected key=value, got "fall"`.
Result<CheckOptions> ParseCheckWords(std::span<const std::string_view> words);

}  // namespace upcheck

#endif  // UPCHECK_CHECK_WORDS_H_
