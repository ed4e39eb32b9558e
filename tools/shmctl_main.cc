// upcheck-shmctl: read and edit an upcheck segment's shared dict from outside the daemon.
//
// Parses the command line with CLI11 into an Invocation, opens the segment (when the
// command needs one) and runs one function from shmctl_commands.h. Every failure is one
// line on stderr, "upcheck-shmctl: <message>", and exit status 1.
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "shmctl_commands.h"
#include "shmctl_events.h"
#include "shmctl_fleet.h"
#include "shmctl_peers.h"
#include "upcheck/segment.h"

namespace upcheck::shmctl {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;

// Everything the command line said, as text; commands validate their own arguments.
struct Invocation {
  std::optional<std::string> segment_name;
  std::optional<std::string> config_path;
  CreateArgs create;
  InfoArgs info;
  KeysArgs keys;
  KeyArgs get;
  KeyArgs ttl;
  StoreArgs set;
  StoreArgs add;
  IncrArgs incr;
  DelArgs del;
  FlushArgs flush;
  WorkersArgs workers;
  PeerArgs peer;
  PeersArgs peers;
  EventsArgs events;
  FleetArgs fleet;
};

// What a parsed subcommand does, given the segment name.
using Runner = std::function<Status(const std::string& name)>;

// Opens the named segment and runs fn on it.
Status WithSegment(const std::string& name, const std::function<Status(Segment&)>& fn) {
  Result<std::unique_ptr<Segment>> segment = Segment::Open(name);
  if (!segment) return segment.status();
  return fn(**segment);
}

Runner OnDict(std::function<Status(SharedDict&)> fn) {
  return [fn = std::move(fn)](const std::string& name) {
    return WithSegment(name, [&](Segment& s) { return fn(s.dict()); });
  };
}

Runner OnSegment(std::function<Status(Segment&)> fn) {
  return [fn = std::move(fn)](const std::string& name) { return WithSegment(name, fn); };
}

void AddJsonFlag(CLI::App* sub, bool* json) {
  sub->add_flag("--json", *json, "Print one JSON document instead of text");
}

void AddStoreOptions(CLI::App* sub, StoreArgs* args) {
  sub->add_option("KEY", args->key, "Key")->required();
  sub->add_option("VALUE", args->value, "true/false, a number, or any other text")->required();
  sub->add_option_function<std::string>(
         "--ttl", [args](const std::string& s) { args->ttl = s; },
         "Expire after S seconds (ms precision, e.g. 0.5); 0 = never (the default)")
      ->type_name("S");
  sub->add_flag("--string", args->force_string,
                "Store VALUE as a string even if it reads as a "
                "number or boolean");
}

// Declares every subcommand on `app`, binding its arguments into `inv`. Returns the runner
// of each subcommand, to be called for the one that was given.
std::vector<std::pair<CLI::App*, Runner>> DefineCommands(CLI::App& app, Invocation& inv) {
  std::vector<std::pair<CLI::App*, Runner>> commands;
  auto add = [&](const char* name, const char* description, Runner run) {
    CLI::App* sub = app.add_subcommand(name, description);
    commands.emplace_back(sub, std::move(run));
    return sub;
  };
  CLI::App* sub =
      add("create", "Create and publish an empty segment (no daemon needed)",
          [&inv](const std::string& name) { return RunCreate(name, inv.create, std::cout); });
  sub->add_option("--size", inv.create.size,
                  "The dict's capacity, as shm.size: bytes, or with k/m suffix "
                  "(the segment is bigger)")
      ->type_name("SIZE")
      ->capture_default_str();
  sub->add_flag("--replace", inv.create.replace, "Remove an existing segment of that name first");

  add("remove", "Remove the segment's name (processes that mapped it keep it)",
      [](const std::string& name) { return RunRemove(name, std::cout); });

  sub = add("info", "Segment size, dict capacity/free/entries, layout version, creator, workers",
            [&inv](const std::string& name) {
              return WithSegment(name, [&](Segment& s) { return RunInfo(s, inv.info, std::cout); });
            });
  AddJsonFlag(sub, &inv.info.json);

  sub = add("keys", "List live keys (KEY<TAB>VALUE<TAB>TTL), sorted by key",
            OnDict([&inv](SharedDict& d) { return RunKeys(d, inv.keys, std::cout); }));
  sub->add_option("PREFIX", inv.keys.prefix, "Only keys that start with PREFIX");
  AddJsonFlag(sub, &inv.keys.json);

  sub = add("get", "Print a key's value",
            OnDict([&inv](SharedDict& d) { return RunGet(d, inv.get, std::cout); }));
  sub->add_option("KEY", inv.get.key, "Key")->required();
  AddJsonFlag(sub, &inv.get.json);

  sub = add("ttl", "Print a key's remaining TTL in seconds (0: never expires)",
            OnDict([&inv](SharedDict& d) { return RunTtl(d, inv.ttl, std::cout); }));
  sub->add_option("KEY", inv.ttl.key, "Key")->required();
  AddJsonFlag(sub, &inv.ttl.json);

  sub = add("set", "Store a value, replacing any value and TTL",
            OnDict([&inv](SharedDict& d) { return RunSet(d, inv.set, std::cerr); }));
  AddStoreOptions(sub, &inv.set);

  sub = add("add", "Store a value only if the key is absent (else error \"exists\")",
            OnDict([&inv](SharedDict& d) { return RunAdd(d, inv.add, std::cerr); }));
  AddStoreOptions(sub, &inv.add);

  sub = add("incr", "Add N to a number and print the result",
            OnDict([&inv](SharedDict& d) { return RunIncr(d, inv.incr, std::cout); }));
  sub->add_option("KEY", inv.incr.key, "Key")->required();
  sub->add_option("N", inv.incr.delta, "The increment, e.g. 1 or -2")->required();
  sub->add_option_function<std::string>(
         "--init", [&inv](const std::string& s) { inv.incr.init = s; },
         "Create a missing key as V + N instead of failing with \"not found\"")
      ->type_name("V");

  sub = add("del", "Delete a key (succeeds if it is absent)",
            OnDict([&inv](SharedDict& d) { return RunDel(d, inv.del); }));
  sub->add_option("KEY", inv.del.key, "Key")->required();

  sub = add("flush", "Expire every entry (flush_all)",
            OnDict([&inv](SharedDict& d) { return RunFlush(d, inv.flush, std::cout); }));
  sub->add_flag("--expired", inv.flush.expired,
                "Instead free the already expired entries and print how many (flush_expired)");

  sub = add("workers", "The daemon's workers: pid, liveness, state, cycles, local versions",
            [&inv](const std::string& name) {
              return WithSegment(name,
                                 [&](Segment& s) { return RunWorkers(s, inv.workers, std::cout); });
            });
  AddJsonFlag(sub, &inv.workers.json);

  sub = add("peer", "Set a peer's admin state: down (maintenance), drain, up, or auto (the checks)",
            OnSegment([&inv](Segment& s) { return RunPeer(s, inv.peer, std::cout); }));
  sub->add_option("UPSTREAM", inv.peer.upstream, "Upstream name")->required();
  sub->add_option("PEER", inv.peer.peer, "An address as in the config, or primary:N / backup:N")
      ->required();
  sub->add_option("STATE", inv.peer.state, "down | drain | up | auto")->required();
  sub->add_option_function<std::string>(
         "--ttl", [&inv](const std::string& s) { inv.peer.ttl = s; },
         "Fall back to auto after D (e.g. 30s, 10m, 2h); default: until changed")
      ->type_name("D");
  sub->add_option_function<std::string>(
         "--reason", [&inv](const std::string& s) { inv.peer.reason = s; },
         "Why, for whoever reads `peers` (at most 200 bytes)")
      ->type_name("TEXT");

  sub = add("peers", "Each peer's check state and admin state (reason, expiry)",
            OnSegment([&inv](Segment& s) { return RunPeers(s, inv.peers, std::cout); }));
  sub->add_option_function<std::string>(
      "UPSTREAM", [&inv](const std::string& s) { inv.peers.upstream = s; }, "Only this upstream");
  AddJsonFlag(sub, &inv.peers.json);

  sub = add("events", "The event journal: transitions, first failures, admin changes, workers",
            [&inv](const std::string& name) {
              return RunEvents(name, inv.events, std::cout, std::cerr);
            });
  sub->add_option_function<std::string>(
         "--since", [&inv](const std::string& s) { inv.events.since = s; },
         "Start at event number SEQ (default: the oldest the ring holds)")
      ->type_name("SEQ");
  sub->add_flag("-f,--follow", inv.events.follow,
                "Keep printing events as they come, across reloads (stop with Ctrl-C)");
  sub->add_flag("--json", inv.events.json, "Print one JSON object per event, a line each");

  sub =
      add("fleet", "This host's role, versions and lock holder in its fleet; with --redis, Redis's",
          OnSegment([&inv](Segment& s) { return RunFleet(s, inv.fleet, std::cout); }));
  sub->add_option_function<std::string>(
      "UPSTREAM", [&inv](const std::string& s) { inv.fleet.upstream = s; }, "Only this upstream");
  CLI::Option* redis =
      sub->add_option_function<std::string>(
             "--redis", [&inv](const std::string& s) { inv.fleet.redis = s; },
             "Also ask this Redis (as [fleet] redis): lock holder and TTL, version, hosts seen")
          ->type_name("ADDR");
  sub->add_option_function<std::string>(
         "--prefix", [&inv](const std::string& s) { inv.fleet.prefix = s; },
         "The fleet's key prefix in Redis, as [fleet] prefix (default upcheck:)")
      ->type_name("P")
      ->needs(redis);
  sub->add_option_function<std::string>(
         "--password-env", [&inv](const std::string& s) { inv.fleet.password_env = s; },
         "Send AUTH with the password in environment variable VAR")
      ->type_name("VAR")
      ->needs(redis);
  AddJsonFlag(sub, &inv.fleet.json);
  return commands;
}

// One line, whatever CLI11 said.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// CLI11's message, made more specific for the two mistakes it words vaguely: an unknown
// command, and a value that starts with "-" (taken for an option unless after "--").
std::string DescribeParseError(const CLI::App& app,
                               const std::vector<std::pair<CLI::App*, Runner>>& commands,
                               const CLI::ParseError& e, int argc, char** argv) {
  const bool any_command = std::any_of(commands.begin(), commands.end(),
                                       [](const auto& c) { return c.first->parsed(); });
  const std::vector<std::string> rest = app.remaining();
  if (!any_command && !rest.empty() && rest.front().rfind('-', 0) != 0) {
    return "unknown command \"" + rest.front() + "\" (see --help)";
  }
  std::string message = std::string(e.what()) + " (see --help)";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    // Our short options are -s, -c and -h ("-sNAME" too); "-3" is already a value to CLI11.
    const bool short_like =
        arg.size() >= 2 && arg[0] == '-' && arg[1] != '-' &&
        std::string_view("sch0123456789").find(arg[1]) == std::string_view::npos;
    if (short_like) {
      return message + "; a value that starts with \"-\" goes after \"--\", e.g. set KEY -- " +
             std::string(arg);
    }
  }
  return message;
}

int Fail(const std::string& message) {
  std::cerr << "upcheck-shmctl: " << OneLine(message) << '\n';
  return kExitError;
}

int Main(int argc, char** argv) {
  CLI::App app("Read and edit an upcheck segment's shared dict; show its worker table.",
               "upcheck-shmctl");
  app.require_subcommand(1);
  app.set_version_flag("-V,--version", "upcheck-shmctl " UPCHECK_TOOLS_VERSION);
  Invocation inv;
  CLI::Option* segment_opt =
      app.add_option_function<std::string>(
             "-s,--segment", [&inv](const std::string& s) { inv.segment_name = s; },
             "Segment name (shm.name; the POSIX object is upcheck.NAME); default healthcheck")
          ->type_name("NAME");
  app.add_option_function<std::string>(
         "-c,--config", [&inv](const std::string& s) { inv.config_path = s; },
         "Take the segment name from this upcheck.toml (shm.name)")
      ->type_name("CONFIG")
      ->excludes(segment_opt);
  std::vector<std::pair<CLI::App*, Runner>> commands = DefineCommands(app, inv);
  app.footer(kShmctlFormats);  // after the subcommands, which would inherit it
  for (auto& [sub, run] : commands) sub->fallthrough();  // -s may follow the command too

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return Fail(DescribeParseError(app, commands, e, argc, argv));
  }

  Result<std::string> name = cli::ResolveSegmentName(inv.segment_name, inv.config_path);
  if (!name) return Fail(name.error());
  for (auto& [sub, run] : commands) {
    if (!sub->parsed()) continue;
    Status st = run(*name);
    std::cout.flush();
    return st.ok() ? kExitOk : Fail(st.message());
  }
  return Fail("no command given (see --help)");
}

}  // namespace
}  // namespace upcheck::shmctl

int main(int argc, char** argv) {
  // Even a failure nobody expected (an allocation, a throwing library) is one line.
  try {
    return upcheck::shmctl::Main(argc, argv);
  } catch (const std::exception& e) {
    return upcheck::shmctl::Fail(e.what());
  }
}
