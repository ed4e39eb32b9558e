#include "shmctl_commands.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "upcheck/config.h"
#include "upcheck/internal/registry.h"
#include "upcheck/internal/segment_setup.h"
#include "worker_table.h"

namespace upcheck::shmctl {

using nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

const char* const kShmctlFormats =
    R"(Output (stdout; errors go to stderr as one line "upcheck-shmctl: ..."):
  info          one "field value" pair per line: segment, size (of the whole segment:
                the dict, its index, the header and the registry), layout_version,
                creator_pid, generation, age, dict_capacity (shm.size, or create's --size:
                the bytes the dict's entries may take), dict_free, dict_entries, registry
                (bytes of the daemon's peers, check details and worker table; 0 without),
                and "workers ALIVE/SLOTS" when a daemon made the segment
  keys          one live key per line, sorted by key: KEY<TAB>VALUE<TAB>TTL
                TTL is "-" (never expires) or seconds left with ms precision, "0.812s";
                tab, newline, CR, backslash and control bytes in KEY/VALUE are escaped
                as \t \n \r \\ \xHH (use --json for exact values and types)
  get           the value as Lua's tostring() prints it (numbers %.14g), unescaped
  ttl           seconds left with ms precision ("0.812"); "0" = never expires
  incr          the new value
  flush --expired   the number of expired entries freed
  workers       a header line, then one line per worker slot in use:
                SLOT PID LIVENESS STATE CHECKERS CYCLES CYCLE_START CYCLE_END VERSIONS
                LIVENESS: alive (kill(pid, 0) finds the process), dead (starting or
                running, but no such process), gone (exiting and already gone);
                CYCLE_START/END: age of the last checker cycle's start/end, "0.312s ago",
                or "-" (none yet); VERSIONS: the worker's local version per upstream,
                "foo.com=3 bar.com=1" (registry order)
  peer          one line per peer changed: UPSTREAM PEER ROLE:ID STATE [until EXPIRY]
  peers         a header line, then one line per peer:
                UPSTREAM PEER ROLE:ID CHECK ADMIN EXPIRES REASON (tab-separated)
                CHECK: up/down by the checks; ADMIN: auto, up, down or drain (an
                expired one reads auto); EXPIRES: RFC 3339 UTC, or "-" (never)
  events        one line per event: SEQ TIME KIND MESSAGE[, upstream: "U"][, error: "E"]
                (admin: [, until EXPIRY][, reason: "R"]); KIND: down, up, failure (the
                first of a streak), admin, worker_exit, worker_spawn, reload; events the
                ring dropped before they were read: "# missed N events (A..B): ..."
  fleet         a header line, then one line per checked upstream:
                UPSTREAM ROLE VERSION LOCAL FALLBACKS HOLDER (tab-separated)
                ROLE: winner, follower, alone or none (no fleet cycle yet); VERSION: the
                fleet version this host holds; LOCAL: its own published version; HOLDER:
                the fleet lock's holder last seen, "-" if none. With --redis, a blank
                line, "redis ADDR", UPSTREAM HOLDER PTTL_MS VERSION, then HOST AGE_S
                (the hosts that asked Redis, seconds since); a Redis that cannot be read
                is an error (exit 1) after the segment's lines
  set, add, del, flush, create, remove: no output
--json (info, keys, get, ttl, workers, peers, fleet) prints one JSON document instead:
  info  {"name","object","size","layout_version","creator_pid","generation","age_ms",
         "dict":{"size","capacity_bytes","free_bytes","entries","chunk_size","chunks"},
         "areas":{"registry_bytes"},
         "workers":{"alive","slots"}}          workers only with a registry
  keys  [{"key","value","type","ttl_ms"}, ...]   type: number|boolean|string
  get   {"key","value","type"}
  ttl   {"key","ttl_ms"}                          ttl_ms 0 = never expires
  workers {"slots","alive","workers":[{"slot","pid","liveness","alive","state","checkers",
         "cycles","started","last_cycle_start","last_cycle_end","last_cycle_start_age_ms",
         "last_cycle_end_age_ms","versions":{"<upstream>":<version>,...}}]}
         times are RFC 3339 UTC with ms ("2026-11-23T18:00:00.123Z"); null (and null
         ages) when there was none
  peers [{"upstream","peer","role","id","check","admin","admin_reason","admin_expires"}]
         admin_expires null = never
  fleet {"upstreams":[{"upstream","role","version","local_version","fallbacks","holder"}],
         "redis":{"address","prefix","upstreams":[{"upstream","holder","lock_pttl_ms",
         "version"}],"hosts":[{"host_id","age_s"}]}}   redis only with --redis; null = none
events --json: one JSON object per line, {"seq","time","kind","pid","upstream","peer",
         "role","message","error"} (upstream..role only for a peer; admin events have
         "admin","reason","expires" instead of "error"); a gap is {"gap":{"from","to",
         "missed"}}. on_event commands read the same object on stdin.
VALUE: true/false -> boolean; a finite number (12, -3.5, 1e3) -> number; nan/inf -> error;
anything else (or --string) -> string. A VALUE or N starting with "-" and not "-<digit>"
(-inf, -x, -.5) goes after "--": upcheck-shmctl set KEY -- -x
Exit status: 0 success; 1 any error (missing key, exists, not found, not a number, missing
segment, layout mismatch, no registry (workers on a segment made without a daemon), bad
argument, usage error).)";

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

// info's "workers ALIVE/SLOTS"; nullopt for a segment without a registry.
struct WorkerCount {
  size_t alive = 0;
  uint32_t slots = 0;
};
std::optional<WorkerCount> CountWorkers(const Segment& segment) {
  Result<Registry> registry = Registry::Attach(segment);
  if (!registry.ok()) return std::nullopt;
  return WorkerCount{cli::CountAlive(registry->Workers()), registry->max_workers()};
}

// "0.312s ago", or "-" for never (0).
std::string AgeText(int64_t unix_ms, int64_t now_ms) {
  if (unix_ms <= 0) return "-";
  return cli::FormatSecondsMs(std::max<int64_t>(0, now_ms - unix_ms)) + "s ago";
}

OrderedJson TimeJson(int64_t unix_ms) {
  const std::string iso = cli::FormatUnixMsIso(unix_ms);
  return iso.empty() ? OrderedJson(nullptr) : OrderedJson(iso);
}

OrderedJson AgeJson(int64_t unix_ms, int64_t now_ms) {
  return unix_ms <= 0 ? OrderedJson(nullptr) : OrderedJson(std::max<int64_t>(0, now_ms - unix_ms));
}

OrderedJson WorkerJson(const Registry& registry, const WorkerRow& row, int64_t now_ms) {
  const cli::Liveness liveness = cli::LivenessOf(row);
  OrderedJson versions = OrderedJson::object();
  for (size_t u = 0; u < row.versions.size() && u < registry.upstream_count(); ++u) {
    versions[std::string(registry.upstream_name(u))] = cli::VersionJson(row.versions[u]);
  }
  return {{"slot", row.slot},
          {"pid", row.pid},
          {"liveness", cli::LivenessName(liveness)},
          {"alive", liveness == cli::Liveness::kAlive},
          {"state", WorkerStateName(row.state)},
          {"checkers", row.checkers},
          {"cycles", row.cycles},
          {"started", TimeJson(row.started_ms)},
          {"last_cycle_start", TimeJson(row.last_cycle_start_ms)},
          {"last_cycle_end", TimeJson(row.last_cycle_end_ms)},
          {"last_cycle_start_age_ms", AgeJson(row.last_cycle_start_ms, now_ms)},
          {"last_cycle_end_age_ms", AgeJson(row.last_cycle_end_ms, now_ms)},
          {"versions", std::move(versions)}};
}

constexpr const char* kWorkersRow = "{:<4}  {:<8}  {:<8}  {:<8}  {:<8}  {:<8}  {:<14}  {:<14}  {}";

// One table line, without the padding a short last column leaves.
std::string TrimRight(std::string line) {
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

std::string WorkerLine(const Registry& registry, const WorkerRow& row, int64_t now_ms) {
  std::string versions;
  for (size_t u = 0; u < row.versions.size() && u < registry.upstream_count(); ++u) {
    if (!versions.empty()) versions += ' ';
    versions +=
        cli::EscapeForLine(registry.upstream_name(u)) + "=" + FormatDictValue(row.versions[u]);
  }
  return TrimRight(fmt::format(fmt::runtime(kWorkersRow), row.slot, row.pid,
                               cli::LivenessName(cli::LivenessOf(row)), WorkerStateName(row.state),
                               row.checkers, row.cycles, AgeText(row.last_cycle_start_ms, now_ms),
                               AgeText(row.last_cycle_end_ms, now_ms), versions));
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
  const std::optional<WorkerCount> workers = CountWorkers(segment);
  // The registry (the daemon's peers, their check details and the worker table), if any.
  size_t registry_bytes = 0;
  if (SegmentSetUp::Area(segment, SegmentArea::kRegistry, &registry_bytes) == nullptr) {
    registry_bytes = 0;
  }
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
         {{"size", info.dict_size},
          {"capacity_bytes", stats.capacity_bytes},
          {"free_bytes", stats.free_bytes},
          {"entries", stats.entries},
          {"chunk_size", stats.chunk_size},
          {"chunks", stats.chunks}}},
        {"areas", {{"registry_bytes", registry_bytes}}},
    };
    if (workers) doc["workers"] = {{"alive", workers->alive}, {"slots", workers->slots}};
    out << doc.dump() << '\n';
    return Status::Ok();
  }
  out << fmt::format("{:<15} {} ({})\n", "segment", info.name, SegmentObjectName(info.name))
      << fmt::format("{:<15} {} ({})\n", "size", info.size, FormatSize(info.size))
      << fmt::format("{:<15} {}\n", "layout_version", info.layout_version)
      << fmt::format("{:<15} {}\n", "creator_pid", info.creator_pid)
      << fmt::format("{:<15} {}\n", "generation", info.generation)
      << fmt::format("{:<15} {}s\n", "age", cli::FormatSecondsMs(age_ms))
      << fmt::format("{:<15} {} bytes ({})\n", "dict_capacity", stats.capacity_bytes,
                     FormatSize(stats.capacity_bytes))
      << fmt::format("{:<15} {} bytes\n", "dict_free", stats.free_bytes)
      << fmt::format("{:<15} {}\n", "dict_entries", stats.entries)
      << fmt::format("{:<15} {} bytes\n", "registry", registry_bytes);
  if (workers) out << fmt::format("{:<15} {}/{}\n", "workers", workers->alive, workers->slots);
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

Status RunWorkers(Segment& segment, const WorkersArgs& args, std::ostream& out) {
  Result<Registry> registry = Registry::Attach(segment);
  if (!registry.ok()) return registry.status();
  const std::vector<WorkerRow> rows = registry->Workers();
  const int64_t now_ms = cli::UnixNowMs();
  if (args.json) {
    OrderedJson workers = OrderedJson::array();
    for (const WorkerRow& row : rows) workers.push_back(WorkerJson(*registry, row, now_ms));
    OrderedJson doc = {{"slots", registry->max_workers()},
                       {"alive", cli::CountAlive(rows)},
                       {"workers", std::move(workers)}};
    out << doc.dump() << '\n';
    return Status::Ok();
  }
  std::string header = fmt::format(fmt::runtime(kWorkersRow), "SLOT", "PID", "LIVENESS", "STATE",
                                   "CHECKERS", "CYCLES", "CYCLE_START", "CYCLE_END", "VERSIONS");
  out << header << '\n';
  for (const WorkerRow& row : rows) out << WorkerLine(*registry, row, now_ms) << '\n';
  return Status::Ok();
}

}  // namespace upcheck::shmctl
