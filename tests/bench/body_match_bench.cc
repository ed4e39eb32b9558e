// The CPU cost of response rules (DESIGN §9): real probes through Prober on a libuv loop
// against a loopback backend in a forked process, which answers a JSON health reply of
// ~20 B or ~4 KiB with Content-Length and Connection: close. Three checks: status only
// (valid_statuses={200}), + expect_header (Content-Type), + expect_body
// ("status"\s*:\s*"ok"). The budget: a body check costs at most 1.3x a status-only one.
//
// cpu_us is getrusage(RUSAGE_SELF) user + system time per probe of this process only (the
// backend is another process), user_us the user part. At the end, prints the median of the
// repetitions of each check and its ratio to status only.
//
//   build/tests/bench/body_match_bench --benchmark_repetitions=9
//     --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
//   valgrind --tool=callgrind --toggle-collect='*RunOneProbe*'
//     build/tests/bench/body_match_bench --probes=2000 --benchmark_filter='body/4096'
//     (one command line; instructions per probe: the "Collected" total / 2000)
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "probe/prober.h"
#include "probe_target_for.h"

namespace upcheck {
namespace {

constexpr char kRequest[] = "GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
constexpr size_t kBodySizes[] = {20, 4096};

enum class Variant { kStatus, kHeader, kBody };
constexpr const char* kVariantNames[] = {"status", "header", "body"};

// A JSON body of exactly `size` bytes (at least that of the status member and braces).
std::string Body(size_t size) {
  std::string body = "{\"status\":\"ok\"";
  if (size > body.size() + 1) {
    const size_t pad = size - body.size() - 1;
    body += pad >= 9 ? ",\"p\":\"" + std::string(pad - 7, 'x') + "\"" : std::string(pad, ' ');
  }
  return body + "}";
}

std::string Reply(size_t body_size) {
  std::string body = Body(body_size);
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

// One connection at a time: read the request head, write the reply, close.
[[noreturn]] void Serve(int listener, const std::string& reply) {
  signal(SIGPIPE, SIG_IGN);  // a status-only probe may close before the reply is all sent
  std::string request;
  char buffer[2048];
  for (;;) {
    int conn = accept(listener, nullptr, nullptr);
    if (conn < 0) continue;
    request.clear();
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = read(conn, buffer, sizeof(buffer));
      if (n <= 0) break;
      request.append(buffer, static_cast<size_t>(n));
    }
    (void)!write(conn, reply.data(), reply.size());
    close(conn);
  }
}

struct Backend {
  pid_t pid = -1;
  int port = 0;
};

std::map<size_t, Backend>& Backends() {
  static std::map<size_t, Backend> backends;
  return backends;
}

Backend StartBackend(size_t body_size) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 128) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("backend listen");
    std::exit(1);
  }
  const std::string reply = Reply(body_size);
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(1);
  }
  if (pid == 0) Serve(fd, reply);
  close(fd);
  return {pid, ntohs(addr.sin_port)};
}

ProbeOptions OptionsFor(Variant variant) {
  ProbeOptions options;
  options.request = kRequest;
  options.timeout_ms = 10000;  // generous: under valgrind the backend is slow too
  options.valid_statuses = std::vector<double>{200};
  if (variant == Variant::kHeader) {
    options.rules.header_name = "Content-Type";
    options.rules.header_match = "^application/json";
  } else if (variant == Variant::kBody) {
    options.rules.body_match = R"("status"\s*:\s*"ok")";
  }
  return options;
}

struct Cpu {
  double user = 0;  // seconds
  double system = 0;
};

Cpu CpuOfProcess() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
}

// One probe, start to callback. Not inlined: callgrind's --toggle-collect names it.
__attribute__((noinline)) bool RunOneProbe(Prober& prober, uv_loop_t* loop,
                                           const ProbeTarget& target) {
  std::optional<ProbeResult> result;
  if (!prober.Start(target, [&](ProbeResult r) { result = std::move(r); }).ok()) return false;
  while (!result.has_value() && uv_run(loop, UV_RUN_ONCE) != 0) {
  }
  return result.has_value() && result->ok();
}

// Per check and body size, each run's probes and CPU seconds per probe. The runs with the
// most probes count (Google Benchmark's repetitions; not its shorter sizing runs).
struct Run {
  int64_t probes = 0;
  Cpu per_probe;
};
std::map<std::pair<int, size_t>, std::vector<Run>>& Runs() {
  static std::map<std::pair<int, size_t>, std::vector<Run>> runs;
  return runs;
}

// The median per-probe CPU (user + system, and user alone) of the longest runs.
std::optional<Cpu> MedianOf(const std::vector<Run>& runs) {
  int64_t most = 0;
  for (const Run& run : runs) most = std::max(most, run.probes);
  std::vector<double> total, user;
  for (const Run& run : runs) {
    if (run.probes != most) continue;
    total.push_back(run.per_probe.user + run.per_probe.system);
    user.push_back(run.per_probe.user);
  }
  if (total.empty()) return std::nullopt;
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  const double t = median(total), u = median(user);
  return Cpu{u, t - u};
}

void BM_Probe(benchmark::State& state, Variant variant, size_t body_size) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  auto prober = Prober::Create(&loop, OptionsFor(variant));
  auto target = ProbeTargetFor("127.0.0.1:" + std::to_string(Backends().at(body_size).port));
  if (!prober.ok() || !target.ok()) {
    state.SkipWithError("cannot create the prober");
    return;
  }
  int64_t failed = 0;
  const Cpu before = CpuOfProcess();
  for (auto _ : state) {
    if (!RunOneProbe(**prober, &loop, *target)) ++failed;
  }
  const Cpu after = CpuOfProcess();
  prober->reset();
  while (uv_run(&loop, UV_RUN_DEFAULT) != 0) {
  }
  uv_loop_close(&loop);
  if (failed > 0) {
    state.SkipWithError("a probe failed");
    return;
  }
  const auto probes = static_cast<double>(state.iterations());
  const Cpu per_probe{(after.user - before.user) / probes, (after.system - before.system) / probes};
  state.counters["cpu_us"] = (per_probe.user + per_probe.system) * 1e6;
  state.counters["user_us"] = per_probe.user * 1e6;
  Runs()[{static_cast<int>(variant), body_size}].push_back({state.iterations(), per_probe});
}

void PrintRatios() {
  std::printf("\nCPU per probe of this process (getrusage), median of the runs:\n");
  for (size_t size : kBodySizes) {
    std::optional<Cpu> base = MedianOf(Runs()[{static_cast<int>(Variant::kStatus), size}]);
    if (!base) continue;
    for (int v = 0; v < 3; ++v) {
      std::optional<Cpu> cpu = MedianOf(Runs()[{v, size}]);
      if (!cpu) continue;
      const double total = cpu->user + cpu->system;
      std::printf("  %-6s body %4zu B: %6.2f us (user %5.2f us)  x%.3f of status only\n",
                  kVariantNames[v], size, total * 1e6, cpu->user * 1e6,
                  total / (base->user + base->system));
    }
  }
}

}  // namespace
}  // namespace upcheck

int main(int argc, char** argv) {
  using namespace upcheck;
  signal(SIGPIPE, SIG_IGN);  // Prober's requirement
  // --probes=N: exactly N probes per benchmark (for callgrind, whose total is then exact).
  int64_t probes = 0;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--probes=", 9) == 0) {
      probes = std::atoll(argv[i] + 9);
    } else {
      args.push_back(argv[i]);
    }
  }
  int args_count = static_cast<int>(args.size());
  for (size_t size : kBodySizes) Backends()[size] = StartBackend(size);
  for (size_t size : kBodySizes) {
    for (Variant v : {Variant::kStatus, Variant::kHeader, Variant::kBody}) {
      std::string name =
          std::string(kVariantNames[static_cast<int>(v)]) + "/" + std::to_string(size);
      auto* bench = benchmark::RegisterBenchmark(name.c_str(), BM_Probe, v, size);
      if (probes > 0) bench->Iterations(probes);
    }
  }
  benchmark::Initialize(&args_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(args_count, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  PrintRatios();
  for (auto& [size, backend] : Backends()) {
    kill(backend.pid, SIGTERM);
    waitpid(backend.pid, nullptr, 0);
  }
  return 0;
}
