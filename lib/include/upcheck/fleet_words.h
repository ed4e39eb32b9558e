// ParseFleetWords: the fleet tier's settings (DESIGN §11) as `key=value` words, the way
// nginx's `upcheck_fleet redis=127.0.0.1:6379 host_id=lb-1 ...` directive writes them:
// the [fleet] table's keys (redis, host_id, prefix, timeout, password) and its checks.
// redis is required; host_id defaults to gethostname(), prefix to "upcheck:", timeout
// (ms per Redis round trip) to 200. Errors name the word: `unknown option "tiemout"`,
// `bad redis address "x": ...`, `timeout must be 1..60000 ms, got "0"`. Any thread.
#ifndef UPCHECK_FLEET_WORDS_H_
#define UPCHECK_FLEET_WORDS_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_EMBED)
#error "upcheck/fleet_words.h belongs to embed/, a layer above (see lib/meson.build)"
#endif

#include <span>
#include <string_view>

#include "upcheck/config.h"
#include "upcheck/status.h"

namespace upcheck {

// Each word is `key=value`, the value everything after the first '=' (a password may hold
// one); a key may not repeat. The redis address comes back canonical ("127.0.0.1:6379").
Result<FleetConfig> ParseFleetWords(std::span<const std::string_view> words);

}  // namespace upcheck

#endif  // UPCHECK_FLEET_WORDS_H_
