#include "demo.h"

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <ctime>
#include <string>

#include <fmt/format.h>

#include "demo_backends.h"
#include "listeners.h"
#include "master.h"
#include "upcheck/config.h"
#include "upcheck/protocol_keys.h"
#include "upcheck/status_pages.h"

namespace upcheck::daemon {
namespace {

// 127.0.0.1:8080 when it is free (a newcomer's first guess), else a port the kernel picks.
std::string StatusListen() {
  bool free = ListenSocket::Open("127.0.0.1:8080", "status_listen").ok();
  return free ? "127.0.0.1:8080" : "127.0.0.1:0";
}

std::string DemoToml(const DemoBackends& b, const std::string& status_listen) {
  return fmt::format(R"toml(
[shm]
name = "demo"

[daemon]
workers = 2
status_listen = "{}"
log_level = "warn"

[[upstream]]
name = "demo"
primary = ["127.0.0.1:{}", "127.0.0.1:{}", "127.0.0.1:{}"]
backup = ["127.0.0.1:{}"]

[upstream.check]
type = "http"
http_req = "GET /health HTTP/1.0\r\nHost: demo\r\n\r\n"
interval = 1000
timeout = 500
fall = 2
rise = 2
valid_statuses = [200]
)toml",
                     status_listen, b.steady, b.flapping, b.refusing, b.backup);
}

void PrintIntro(Master& master, const DemoBackends& b) {
  std::string url = "http://" + master.listeners().status->bound();
  std::printf(
      "upcheckd demo: 2 workers check upstream \"demo\" every second (fall 2, rise 2).\n"
      "  primary 127.0.0.1:%d  always answers 200          -> UP\n"
      "  primary 127.0.0.1:%d  200 and 503 by turns, %d s each -> DOWN and UP again\n"
      "  primary 127.0.0.1:%d  refuses connections         -> DOWN\n"
      "  backup  127.0.0.1:%d  always answers 200          -> UP\n"
      "Look at it:\n"
      "  curl -i %s/status\n"
      "  curl %s/metrics\n"
      "  curl %s/status.json\n"
      "  upcheck-shmctl -s demo keys\n"
      "Peer transitions show below as [warn] lines; the status page follows every 2 s.\n"
      "Ctrl-C stops everything.\n",
      b.steady, b.flapping, kFlapSeconds, b.refusing, b.backup, url.c_str(), url.c_str(),
      url.c_str());
  std::fflush(stdout);
}

// The status page as the segment has it: the registry's peers with the shared down flags,
// which is what every worker's view converges to.
std::string PageFromSegment(Master& master) {
  const Registry& registry = master.registry();
  Result<Upstreams> view = registry.BuildUpstreams();
  if (!view.ok()) return view.error() + "\n";
  SharedDict& dict = master.segment().dict();
  for (size_t u = 0; u < registry.upstream_count(); ++u) {
    std::string name(registry.upstream_name(u));
    if (registry.has_check(u)) view->AddChecker(name, 1);
    for (size_t k = 0; k < registry.peer_count(u); ++k) {
      Registry::Peer p = registry.peer(u, k);
      auto flag = dict.Get(PeerKey(KeyFamily::kDown, name, p.backup, p.id));
      bool down = flag.ok() && IsDownFlag(*flag);
      if (down || !p.configured_down) (void)view->SetPeerDown(name, p.backup, p.id, down);
    }
  }
  return StatusPage(*view);
}

void PrintPage(Master& master) {
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[16];
  std::strftime(stamp, sizeof(stamp), "%H:%M:%S", &local);
  std::printf("\n--- /status at %s ---\n%s", stamp, PageFromSegment(master).c_str());
  std::fflush(stdout);
}

}  // namespace

int RunDemo() {
  Result<DemoBackends> backends = StartDemoBackends();
  if (!backends.ok()) {
    std::fprintf(stderr, "upcheckd: %s\n", backends.error().c_str());
    return 1;
  }
  DemoBackends b = *backends;
  Result<Config> config = ParseConfig(DemoToml(b, StatusListen()), "(demo)");
  if (!config.ok()) {  // a bug in the text above
    std::fprintf(stderr, "upcheckd: demo configuration: %s\n", config.error().c_str());
    kill(b.pid, SIGKILL);
    waitpid(b.pid, nullptr, 0);
    return 1;
  }
  Master master(std::move(*config), {.config_path = "",
                                     .on_ready = [&b](Master& m) { PrintIntro(m, b); },
                                     .on_tick = [](Master& m) { PrintPage(m); },
                                     .tick_ms = 2000,
                                     .helpers = {b.pid}});
  int code = master.Run();
  if (code != 0) {
    kill(b.pid, SIGKILL);
    waitpid(b.pid, nullptr, 0);
  } else {
    std::printf("upcheckd demo: stopped\n");
  }
  return code;
}

}  // namespace upcheck::daemon
