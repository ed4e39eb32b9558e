// Fuzz target: the config parser. Any bytes in, a Config or an error out; never a crash.
// Invariant: an accepted config survives DumpConfig -> ParseConfig -> DumpConfig unchanged
// (config.h promises the round trip). The text alone: no file named in it is opened.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "upcheck/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  upcheck::Result<upcheck::Config> config =
      upcheck::ParseConfig(text, "fuzz.toml", upcheck::ConfigFiles::kSkip);
  if (!config.ok()) {
    if (config.error().empty()) std::abort();  // an error must say something
    return 0;
  }
  std::string dump = upcheck::DumpConfig(*config);
  upcheck::Result<upcheck::Config> again =
      upcheck::ParseConfig(dump, "dump.toml", upcheck::ConfigFiles::kSkip);
  if (!again.ok()) {
    std::fprintf(stderr, "dump of an accepted config is refused: %s\n--\n%s\n",
                 again.error().c_str(), dump.c_str());
    std::abort();
  }
  if (upcheck::DumpConfig(*again) != dump) {
    std::fprintf(stderr, "dump is not stable:\n%s\n--\n%s\n", dump.c_str(),
                 upcheck::DumpConfig(*again).c_str());
    std::abort();
  }
  return 0;
}
