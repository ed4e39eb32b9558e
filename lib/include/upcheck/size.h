// Sizes as nginx writes them ("512k", "1m"), for shm.size and the errors that name a bound.
// Pure functions of their input; safe from any thread.
#ifndef UPCHECK_SIZE_H_
#define UPCHECK_SIZE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "upcheck/status.h"

namespace upcheck {

// "1048576", "512k", "1m" (k and m are binary, either case) to bytes. The error says
// `bad size "12q" (bytes, or a number with k or m suffix)`.
Result<size_t> ParseSize(std::string_view text);
// The shortest ParseSize() spelling of `bytes`: 1048576 gives "1m", 1536 gives "1536".
std::string FormatSize(size_t bytes);

}  // namespace upcheck

#endif  // UPCHECK_SIZE_H_
