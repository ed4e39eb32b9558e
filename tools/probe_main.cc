// upcheck-probe: one health probe of one peer, by the checker's own code, with each step's
// time and each rule's verdict (DESIGN §9).
//
// Exit 0 when the peer would count as ok, 1 when the probe failed, 2 when the command line
// or the config is wrong (one line on stderr, "upcheck-probe: <message>"). --help and
// --version exit 0.
#include <exception>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "check/probe_options_of.h"
#include "probe_report.h"
#include "probe_run.h"
#include "probe_setup.h"

namespace upcheck::probe_tool {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitProbeFailed = 1;
constexpr int kExitUsage = 2;

constexpr const char* kFooter = R"(
TARGET is http://HOST[:PORT][/PATH], https://HOST[:PORT][/PATH], HOST:PORT or [V6]:PORT
(type http with path / unless --type says otherwise) or unix:/PATH. A host name is resolved
with getaddrinfo; the probe names the peer by the address it connected to.

With -c CONFIG --upstream U --peer P, the check is upstream U's [upstream.check] and the peer
is P, an address as the config writes it or primary:N / backup:N; the flags override it.

Exit status: 0 the peer would count as ok, 1 the probe failed, 2 a bad flag or config.)";

int Fail(std::string message) {
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  std::cerr << "upcheck-probe: " << message << '\n';
  return kExitUsage;
}

void AddOptional(CLI::App& app, const std::string& name, std::optional<std::string>& into,
                 const std::string& help, const std::string& type_name) {
  app.add_option_function<std::string>(
         name, [&into](const std::string& s) { into = s; }, help)
      ->type_name(type_name);
}

void AddFlags(CLI::App& app, ProbeFlags& f) {
  app.add_option_function<std::string>(
         "target", [&f](const std::string& s) { f.target = s; }, "URL or HOST:PORT")
      ->type_name("TARGET");
  AddOptional(app, "--type", f.type, "http, https, tcp (connect only) or tls (handshake)", "TYPE");
  AddOptional(app, "--expect-status", f.expect_status, "Status rules: 2xx,301-308,!503", "RULES");
  AddOptional(app, "--expect-header", f.expect_header, "A header matching a PCRE2 regex",
              "NAME:REGEX");
  AddOptional(app, "--expect-body", f.expect_body, "PCRE2 regex over the body's first bytes",
              "REGEX");
  AddOptional(app, "--body-max", f.body_max, "Body bytes read for --expect-body (64k)", "SIZE");
  AddOptional(app, "--method", f.method, "Request method (GET)", "M");
  AddOptional(app, "--path", f.path, "Request path (the URL's, else /)", "P");
  AddOptional(app, "--host", f.host, "Host header, TLS SNI and certificate name", "H");
  // One value per --header, so that a target after it stays the target.
  app.add_option("--header", f.headers, "A request header, repeatable")
      ->type_name("'NAME: V'")
      ->allow_extra_args(false);
  AddOptional(app, "--body", f.body, "Request body (sent with Content-Length)", "B");
  AddOptional(app, "--http-req", f.http_req, "Raw request instead (\\r \\n escapes)", "RAW");
  app.add_option_function<int64_t>(
         "--timeout", [&f](int64_t ms) { f.timeout_ms = ms; }, "Timeout of each step (1000)")
      ->type_name("MS");
  AddOptional(app, "--valid-statuses", f.valid_statuses, "Statuses that count as ok", "200,302");
  AddOptional(app, "--ca-file", f.ca_file, "PEM trust store (https, tls)", "F");
  app.add_flag("--insecure", f.insecure, "Do not verify the server's certificate");
  AddOptional(app, "--cert", f.cert, "Client certificate (PEM; with --key)", "F");
  AddOptional(app, "--key", f.key, "Its private key (PEM)", "F");
  AddOptional(app, "--alpn", f.alpn, "Protocols to offer", "a,b");
  AddOptional(app, "--tls-min-version", f.tls_min_version, "1.0, 1.1, 1.2 or 1.3", "V");
  AddOptional(app, "-c,--config", f.config, "Take the check from this upcheck.toml", "CONFIG");
  AddOptional(app, "--upstream", f.upstream, "The upstream whose check to run (with -c)", "U");
  AddOptional(app, "--peer", f.peer, "The peer to probe (with -c)", "P");
}

int Main(int argc, char** argv) {
  CLI::App app("Run one health probe with upcheck's own checker code and show each step.",
               "upcheck-probe");
  app.set_version_flag("-V,--version", "upcheck-probe " UPCHECK_PROBE_VERSION);
  ProbeFlags flags;
  bool json = false;
  AddFlags(app, flags);
  app.add_flag("--json", json, "Print one JSON object");
  app.footer(kFooter);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return Fail(std::string(e.what()) + " (see --help)");
  }

  Result<ProbeSetup> setup = BuildProbeSetup(flags);
  if (!setup) return Fail(setup.error());
  const ProbeOptions options = ProbeOptionsOf(setup->options);
  Result<ProbeRun> run = RunProbe(setup->endpoint, setup->options, options);
  if (!run) return Fail(run.error());
  const ProbeReport report = MakeReport(*run, *setup->options.type, options);
  if (json) {
    std::cout << RenderJson(report).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
              << '\n';
  } else {
    std::cout << RenderText(report);
  }
  std::cout.flush();
  if (!std::cout) return Fail("cannot write to stdout");
  return report.result.ok() ? kExitOk : kExitProbeFailed;
}

}  // namespace
}  // namespace upcheck::probe_tool

int main(int argc, char** argv) {
  try {
    return upcheck::probe_tool::Main(argc, argv);
  } catch (const std::exception& e) {
    return upcheck::probe_tool::Fail(e.what());
  }
}
