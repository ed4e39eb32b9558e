// upcheckd: the command line. `upcheckd -c FILE [--test]` or `upcheckd --demo`.
//
// `upcheckd -s reload|stop|quit|reopen [-c FILE | -p PID_FILE]` signals a running master
// (SIGHUP, SIGTERM, SIGQUIT, SIGUSR1) through its pid file, as `nginx -s` does.
//
// Exit status: 0 after --help, --version, a good --test, a signal sent or a clean stop; 1
// for a bad command line, a bad configuration (its file:line:col report on stderr) or any
// start-up failure or failed -s (one "upcheckd: ..." line on stderr). Warnings about a valid
// configuration
// ("file:line:col: warning: ...") go to stderr, with --test and at start, and change nothing.
//
// Finding the ports: for every socket it opens (at start-up, and on reload for a changed
// address) the master writes "upcheckd: status listener on 127.0.0.1:PORT" or
// "upcheckd: balancer listener for NAME on HOST:PORT" to stderr, whatever log_level and
// error_log say, with the port the kernel chose for ":0".
#include <cstdio>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "demo.h"
#include "master.h"
#include "process_title.h"
#include "signal_command.h"
#include "upcheck/config.h"

namespace {

struct CommandLine {
  std::string config_path;
  bool test = false;
  bool demo = false;
  std::string signal;    // -s ACTION
  std::string pid_file;  // -p FILE, for -s
};

// Parses argv; returns an exit status when there is nothing more to do (help, errors).
std::optional<int> Parse(int argc, char** argv, CommandLine* cl) {
  CLI::App app{"upcheckd: active health checks of upstream peers, shared by preforked workers",
               "upcheckd"};
  CLI::Option* config =
      app.add_option("-c,--config", cl->config_path, "The configuration file")->type_name("FILE");
  app.add_flag("-t,--test", cl->test, "Check the configuration, print \"configuration ok\", exit")
      ->needs(config);
  app.add_flag("--demo", cl->demo,
               "Run a built-in example with demo backends on loopback; Ctrl-C stops it")
      ->excludes(config);
  CLI::Option* signal =
      app.add_option("-s,--signal", cl->signal,
                     "Send a signal to the running master: reload, stop, quit or reopen")
          ->check(CLI::IsMember({"reload", "stop", "quit", "reopen"}))
          ->type_name("ACTION")
          ->excludes("--test")
          ->excludes("--demo");
  app.add_option("-p,--pid-file", cl->pid_file,
                 "With -s: the master's pid file (default: [daemon] pid_file of -c FILE)")
      ->type_name("FILE")
      ->needs(signal);
  app.set_version_flag("-v,--version", "upcheckd " UPCHECKD_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 1;
  }
  if (!cl->signal.empty() && cl->config_path.empty() && cl->pid_file.empty()) {
    std::fprintf(stderr, "upcheckd: -s needs -c FILE or -p PID_FILE to find the master\n");
    return 1;
  }
  if (cl->config_path.empty() && !cl->demo && cl->signal.empty()) {
    std::fprintf(stderr, "upcheckd: -c FILE is required (or --demo); see --help\n");
    return 1;
  }
  return std::nullopt;
}

}  // namespace

// An exception reaching here is a bug: terminate() names it and aborts. Catching it would
// unwind a forked worker through the master's destructors.
// NOLINTNEXTLINE(bugprone-exception-escape)
int main(int argc, char** argv) {
  upcheck::daemon::InitProcessTitle(argc, argv);
  CommandLine cl;
  if (std::optional<int> done = Parse(argc, argv, &cl)) return *done;
  if (!cl.signal.empty()) {
    upcheck::Status sent = upcheck::daemon::SignalDaemon(cl.signal, cl.config_path, cl.pid_file);
    if (sent.ok()) return 0;
    std::fprintf(stderr, "upcheckd: %s\n", sent.message().c_str());
    return 1;
  }
  if (cl.demo) return upcheck::daemon::RunDemo();
  upcheck::Result<upcheck::Config> config = upcheck::LoadConfig(cl.config_path);
  if (!config.ok()) {
    std::string text = config.error();
    if (text.empty() || text.back() != '\n') text += '\n';
    std::fputs(text.c_str(), stderr);
    return 1;
  }
  // Valid but likely not meant; the daemon runs with them (a reload logs them instead).
  for (const std::string& warning : config->warnings) {
    std::fprintf(stderr, "%s\n", warning.c_str());
  }
  if (cl.test) {
    std::puts("configuration ok");
    return 0;
  }
  upcheck::daemon::Master::Options options;
  options.config_path = cl.config_path;
  upcheck::daemon::Master master(std::move(*config), std::move(options));
  return master.Run();
}
