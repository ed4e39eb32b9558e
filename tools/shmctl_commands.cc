#include "shmctl_commands.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "upcheck/config.h"

namespace upcheck::shmctl {

using nlohmann::json;

const char* const kShmctlFormats =
    R"(Output (stdout; errors go to stderr as one line "upcheck-shmctl: ..."):
  info          one "field value" pair per line: segment, size, layout_version,
                creator_pid, generation, age, dict_capacity, dict_free, dict_entries
  keys          one live key per line, sorted by key: KEY<TAB>VALUE<TAB>TTL
                TTL is "-" (never expires) or seconds left with ms precision, "0.812s";
                tab, newline, CR, backslash and control bytes in KEY/VALUE are escaped
                as \t \n \r \\ \xHH (use --json for exact values and types)
  get           the value as Lua's tostring() prints it (numbers %.14g), unescaped
  ttl           seconds left with ms precision ("0.812"); "0" = never expires
  incr          the new value
  flush --expired   the number of expired entries freed
  set, add, del, flush, create, remove: no output
--json (info, keys, get, ttl) prints one JSON document instead:
  info  {"name","object","size","layout_version","creator_pid","generation","age_ms",
         "dict":{"capacity_bytes","free_bytes","entries","chunk_size","chunks"}}
  keys  [{"key","value","type","ttl_ms"}, ...]   type: number|boolean|string
  get   {"key","value","type"}
  ttl   {"key","ttl_ms"}                          ttl_ms 0 = never expires
VALUE: true/false -> boolean; a finite number (12, -3.5, 1e3) -> number; nan/inf -> error;
anything else (or --string) -> string. A VALUE or N starting with "-" and not "-<digit>"
(-inf, -x, -.5) goes after "--": upcheck-shmctl set KEY -- -x
Exit status: 0 success; 1 any error (missing key, exists, not found, not a number, missing
segment, layout mismatch, bad argument, usage error).)";

namespace {

// The dict's own words ("not found", "exists", "not a number") said about a key.
Status KeyError(const std::string& key, const std::string& dict_message) {
  const std::string quoted = "key \"" + cli::EscapeForLine(key) + "\"";
  if (dict_message == "not found" || dict_message == "exists") {
    return Status::Error(quoted + " " + dict_message);
  }
  if (dict_message == "not a number") return Status::Error(quoted + " is not a number");
  return Status::Error(quoted + ": " + dict_message);
}

void WarnIfForcible(const DictStoreResult& r, std::ostream& err) {
  if (r.forcible) {
    err << "upcheck-shmctl: warning: the dict was full; least recently used live entries were "
           "evicted\n";
  }
}

// Validated VALUE and --ttl for set/add: both parsed before the dict is touched.
struct StoreInput {
  DictValue value;
  int64_t ttl_ms = 0;
};

Result<StoreInput> ParseStoreArgs(const StoreArgs& args) {
  Result<DictValue> value = cli::ParseValueArg(args.value, args.force_string);
  if (!value) return value.status();
  int64_t ttl_ms = 0;
  if (args.ttl) {
    Result<int64_t> ttl = cli::ParseTtlArg(*args.ttl);
    if (!ttl) return ttl.status();
    ttl_ms = *ttl;
  }
  return StoreInput{std::move(*value), ttl_ms};
}

}  // namespace

Status RunCreate(const std::string& name, const CreateArgs& args, std::ostream& /*out*/) {
  Result<size_t> size = ParseSize(args.size);
  if (!size) return size.status();
  auto segment = Segment::Create({.name = name, .size = *size, .replace = args.replace});
  if (!segment) return segment.status();
  (*segment)->Publish();
  return Status::Ok();
}

Status RunRemove(const std::string& name, std::ostream& /*out*/) { return Segment::Remove(name); }

Status RunInfo(Segment& segment, const InfoArgs& args, std::ostream& out) {
  const SegmentInfo info = segment.info();
  const DictStats stats = segment.dict().Stats();
  const int64_t age_ms = std::max<int64_t>(0, MonotonicMs() - info.created_ms);
  if (args.json) {
    json doc = {
        {"name", info.name},
        {"object", SegmentObjectName(info.name)},
        {"size", info.size},
        {"layout_version", info.layout_version},
        {"creator_pid", info.creator_pid},
        {"generation", info.generation},
        {"age_ms", age_ms},
        {"dict",
         {{"capacity_bytes", stats.capacity_bytes},
          {"free_bytes", stats.free_bytes},
          {"entries", stats.entries},
          {"chunk_size", stats.chunk_size},
          {"chunks", stats.chunks}}},
    };
    out << doc.dump() << '\n';
    return Status::Ok();
  }
  out << fmt::format("{:<15} {} ({})\n", "segment", info.name, SegmentObjectName(info.name))
      << fmt::format("{:<15} {} ({})\n", "size", info.size, FormatSize(info.size))
      << fmt::format("{:<15} {}\n", "layout_version", info.layout_version)
      << fmt::format("{:<15} {}\n", "creator_pid", info.creator_pid)
      << fmt::format("{:<15} {}\n", "generation", info.generation)
      << fmt::format("{:<15} {}s\n", "age", cli::FormatSecondsMs(age_ms))
      << fmt::format("{:<15} {} bytes\n", "dict_capacity", stats.capacity_bytes)
      << fmt::format("{:<15} {} bytes\n", "dict_free", stats.free_bytes)
      << fmt::format("{:<15} {}\n", "dict_entries", stats.entries);
  return Status::Ok();
}

Status RunKeys(SharedDict& dict, const KeysArgs& args, std::ostream& out) {
  std::vector<DictEntry> entries = dict.Snapshot(args.prefix, 0);
  std::sort(entries.begin(), entries.end(),
            [](const DictEntry& a, const DictEntry& b) { return a.key < b.key; });
  if (args.json) {
    json doc = json::array();
    for (const DictEntry& e : entries) {
      doc.push_back({{"key", e.key},
                     {"value", cli::DictValueToJson(e.value)},
                     {"type", cli::DictValueTypeName(e.value)},
                     {"ttl_ms", e.ttl_ms}});
    }
    out << doc.dump() << '\n';
    return Status::Ok();
  }
  for (const DictEntry& e : entries) {
    out << cli::EscapeForLine(e.key) << '\t' << cli::EscapeForLine(FormatDictValue(e.value)) << '\t'
        << (e.ttl_ms == 0 ? std::string("-") : cli::FormatSecondsMs(e.ttl_ms) + "s") << '\n';
  }
  return Status::Ok();
}

Status RunGet(SharedDict& dict, const KeyArgs& args, std::ostream& out) {
  Result<std::optional<DictValue>> got = dict.Get(args.key);
  if (!got) return KeyError(args.key, got.error());
  if (!got->has_value()) return KeyError(args.key, "not found");
  const DictValue& value = **got;
  if (args.json) {
    json doc = {{"key", args.key},
                {"value", cli::DictValueToJson(value)},
                {"type", cli::DictValueTypeName(value)}};
    out << doc.dump() << '\n';
  } else {
    out << FormatDictValue(value) << '\n';
  }
  return Status::Ok();
}

Status RunTtl(SharedDict& dict, const KeyArgs& args, std::ostream& out) {
  Result<int64_t> ttl = dict.Ttl(args.key);
  if (!ttl) return KeyError(args.key, ttl.error());
  if (args.json) {
    out << json({{"key", args.key}, {"ttl_ms", *ttl}}).dump() << '\n';
  } else {
    out << (*ttl == 0 ? std::string("0") : cli::FormatSecondsMs(*ttl)) << '\n';
  }
  return Status::Ok();
}

Status RunSet(SharedDict& dict, const StoreArgs& args, std::ostream& err) {
  Result<StoreInput> input = ParseStoreArgs(args);
  if (!input) return input.status();
  DictStoreResult r = dict.Set(args.key, input->value, input->ttl_ms);
  WarnIfForcible(r, err);
  return r.ok() ? Status::Ok() : KeyError(args.key, r.status.message());
}

Status RunAdd(SharedDict& dict, const StoreArgs& args, std::ostream& err) {
  Result<StoreInput> input = ParseStoreArgs(args);
  if (!input) return input.status();
  DictStoreResult r = dict.Add(args.key, input->value, input->ttl_ms);
  WarnIfForcible(r, err);
  return r.ok() ? Status::Ok() : KeyError(args.key, r.status.message());
}

Status RunIncr(SharedDict& dict, const IncrArgs& args, std::ostream& out) {
  Result<double> delta = cli::ParseNumberArg("increment", args.delta);
  if (!delta) return delta.status();
  std::optional<double> init;
  if (args.init) {
    Result<double> parsed = cli::ParseNumberArg("init value", *args.init);
    if (!parsed) return parsed.status();
    init = *parsed;
  }
  Result<double> value = dict.Incr(args.key, *delta, init);
  if (!value) return KeyError(args.key, value.error());
  out << FormatDictValue(*value) << '\n';
  return Status::Ok();
}

Status RunDel(SharedDict& dict, const DelArgs& args) {
  Status st = dict.Delete(args.key);
  return st.ok() ? st : KeyError(args.key, st.message());
}

Status RunFlush(SharedDict& dict, const FlushArgs& args, std::ostream& out) {
  if (args.expired) {
    out << dict.FlushExpired(0) << '\n';
  } else {
    dict.FlushAll();
  }
  return Status::Ok();
}

}  // namespace upcheck::shmctl
