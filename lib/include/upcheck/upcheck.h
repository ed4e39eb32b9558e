// upcheck.h: the whole public C++ API of the engine, for servers that embed it.
//
// Start from health_shm.h (the segment, named once) and checker_set.h (checkers, view and
// picks per process). The rest is what those take and give, plus the building blocks under
// them. Nothing here includes Boost, libuv, OpenSSL or PCRE2. The C API is <upcheck.h> at
// the top of the include directory. What only upcheckd, its tools and tests use is in
// upcheck/internal/, which is not installed.
#ifndef UPCHECK_UPCHECK_H_
#define UPCHECK_UPCHECK_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_EMBED)
#error "upcheck/upcheck.h belongs to embed/, a layer above (see lib/meson.build)"
#endif

#include "upcheck/check_options.h"
#include "upcheck/check_words.h"
#include "upcheck/checker.h"
#include "upcheck/checker_set.h"
#include "upcheck/config.h"
#include "upcheck/health_shm.h"
#include "upcheck/log.h"
#include "upcheck/segment.h"
#include "upcheck/shared_dict.h"
#include "upcheck/status.h"
#include "upcheck/status_pages.h"
#include "upcheck/upstreams.h"

#endif  // UPCHECK_UPCHECK_H_
