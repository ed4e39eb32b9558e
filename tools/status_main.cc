// upcheck-status: the daemon's status page, built from the segment alone (status_view.h).
//
// Parses the command line with CLI11, opens the segment named by -s or by -c's shm.name,
// and prints one page. Every failure is one line on stderr, "upcheck-status: <message>",
// and exit status 1; --help and --version exit 0. --check prints one verdict line instead
// (status_check.h), with its own exit status, and reports every failure as UNKNOWN.
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "status_check.h"
#include "status_view.h"
#include "upcheck/segment.h"

namespace upcheck::status_tool {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;

int Fail(std::string message) {
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  while (!message.empty() && message.back() == ' ') message.pop_back();
  std::cerr << "upcheck-status: " << message << '\n';
  return kExitError;
}

// A monitor reads stdout and the exit status: even a usage error is one UNKNOWN line there.
int Verdict(const CheckVerdict& v) {
  std::cout << v.line << '\n';
  std::cout.flush();
  return v.exit_code;
}

bool AskedForCheck(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--check") return true;
  }
  return false;
}

Result<std::string> Render(const std::string& name, Format format) {
  Result<std::unique_ptr<Segment>> segment = Segment::Open(name);
  if (!segment.ok()) return segment.status();
  return RenderStatus(**segment, format);
}

int Main(int argc, char** argv) {
  CLI::App app("Print an upcheckd status page built from its shared-memory segment alone.",
               "upcheck-status");
  std::optional<std::string> segment_name, config_path;
  CLI::Option* segment_opt =
      app.add_option_function<std::string>(
             "-s,--segment", [&](const std::string& s) { segment_name = s; },
             "Segment name (shm.name; the POSIX object is upcheck.NAME); default healthcheck")
          ->type_name("NAME");
  app.add_option_function<std::string>(
         "-c,--config", [&](const std::string& s) { config_path = s; },
         "Take the segment name from this upcheck.toml (shm.name)")
      ->type_name("CONFIG")
      ->excludes(segment_opt);
  std::string format_name = "text";
  app.add_option("-f,--format", format_name,
                 "text (/status), prometheus (/metrics) or json (/status.json); default text")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "prometheus", "json"}));
  bool check = false;
  app.add_flag("--check", check,
               "Print one line, OK/CRITICAL/UNKNOWN; exit 0 when every upstream has a peer up, "
               "1 when one has none, 2 when the segment cannot be read");
  app.set_version_flag("-V,--version", "upcheck-status " UPCHECK_TOOLS_VERSION);
  app.footer(kStatusHelp);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (AskedForCheck(argc, argv)) return Verdict(Unknown(std::string(e.what()) + " (see --help)"));
    return Fail(std::string(e.what()) + " (see --help)");
  }

  Result<std::string> name = cli::ResolveSegmentName(segment_name, config_path);
  if (check) return Verdict(name.ok() ? CheckSegment(*name) : Unknown(name.error()));
  if (!name.ok()) return Fail(name.error());
  const std::map<std::string, Format> formats = {
      {"text", Format::kText}, {"prometheus", Format::kPrometheus}, {"json", Format::kJson}};
  Result<std::string> page = Render(*name, formats.at(format_name));
  if (!page.ok()) return Fail(page.error());
  std::cout << *page;
  std::cout.flush();
  return std::cout ? kExitOk : Fail("cannot write to stdout");
}

}  // namespace
}  // namespace upcheck::status_tool

int main(int argc, char** argv) {
  // Even a failure nobody expected (an allocation, a throwing library) is one line.
  try {
    return upcheck::status_tool::Main(argc, argv);
  } catch (const std::exception& e) {
    return upcheck::status_tool::Fail(e.what());
  }
}
