// The commands of upcheck-shmctl, one function each, separate from option parsing.
//
// Each takes the parsed (still textual) arguments and the streams to write to, and returns
// OK or an error message the caller prints as `upcheck-shmctl: <message>` before exiting 1.
// Arguments are validated before the dict is touched, so a bad argument changes nothing.
// Output formats are documented in kShmctlFormats (shown by --help) and in the README.
#ifndef UPCHECK_TOOLS_SHMCTL_COMMANDS_H_
#define UPCHECK_TOOLS_SHMCTL_COMMANDS_H_

#include <optional>
#include <ostream>
#include <string>

#include "upcheck/segment.h"
#include "upcheck/shared_dict.h"
#include "upcheck/status.h"

namespace upcheck::shmctl {

// The output formats, appended to the top-level --help.
extern const char* const kShmctlFormats;

struct CreateArgs {
  std::string size = "1m";
  bool replace = false;
};
struct InfoArgs {
  bool json = false;
};
struct KeysArgs {
  std::string prefix;
  bool json = false;
};
struct KeyArgs {  // get, ttl
  std::string key;
  bool json = false;
};
struct StoreArgs {  // set, add
  std::string key;
  std::string value;
  std::optional<std::string> ttl;
  bool force_string = false;
};
struct IncrArgs {
  std::string key;
  std::string delta;
  std::optional<std::string> init;
};
struct DelArgs {
  std::string key;
};
struct FlushArgs {
  bool expired = false;
};
struct WorkersArgs {
  bool json = false;
};

// Commands that make or remove the segment itself.
Status RunCreate(const std::string& name, const CreateArgs& args, std::ostream& out);
Status RunRemove(const std::string& name, std::ostream& out);

// Commands on an open segment. `err` receives warnings (e.g. forcible evictions).
Status RunInfo(Segment& segment, const InfoArgs& args, std::ostream& out);
Status RunKeys(SharedDict& dict, const KeysArgs& args, std::ostream& out);
Status RunGet(SharedDict& dict, const KeyArgs& args, std::ostream& out);
Status RunTtl(SharedDict& dict, const KeyArgs& args, std::ostream& out);
Status RunSet(SharedDict& dict, const StoreArgs& args, std::ostream& err);
Status RunAdd(SharedDict& dict, const StoreArgs& args, std::ostream& err);
Status RunIncr(SharedDict& dict, const IncrArgs& args, std::ostream& out);
Status RunDel(SharedDict& dict, const DelArgs& args);
Status RunFlush(SharedDict& dict, const FlushArgs& args, std::ostream& out);
// The daemon's worker table; an error for a segment without a registry.
Status RunWorkers(Segment& segment, const WorkersArgs& args, std::ostream& out);

}  // namespace upcheck::shmctl

#endif  // UPCHECK_TOOLS_SHMCTL_COMMANDS_H_
