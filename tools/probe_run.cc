#include "probe_run.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <uv.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "probe/probe_target.h"
#include "probe/prober.h"
#include "upcheck/peer_address.h"

namespace upcheck::probe_tool {
namespace {

double MsSince(uint64_t start_ns) { return static_cast<double>(uv_hrtime() - start_ns) / 1e6; }

// The first address getaddrinfo gives for `host`, as a literal. Error: gai_strerror's text.
Result<std::string> LookUp(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    return Result<std::string>::Error(fmt::format(
        "cannot resolve \"{}\": {}", host, rc == EAI_SYSTEM ? "system error" : gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, freeaddrinfo);
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw =
      found->ai_family == AF_INET6
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(found->ai_addr)->sin6_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr);
  if (inet_ntop(found->ai_family, raw, text, sizeof(text)) == nullptr) {
    return Result<std::string>::Error(
        fmt::format("cannot resolve \"{}\": no usable address", host));
  }
  return std::string(text);
}

bool IsLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// The endpoint as the engine's parsed peer address (canonical, as nginx prints it).
Result<PeerAddress> AddressOf(const ProbeEndpoint& endpoint, ProbeRun* run) {
  if (endpoint.unix_path) return ParsePeerAddress("unix:" + *endpoint.unix_path);
  std::string literal = endpoint.host;
  if (!IsLiteral(literal)) {
    Result<std::string> found = LookUp(literal);
    if (!found) return found.status();
    literal = *found;
    run->looked_up = true;
  }
  const bool v6 = literal.find(':') != std::string::npos;
  return ParsePeerAddress(v6 ? fmt::format("[{}]:{}", literal, endpoint.port)
                             : fmt::format("{}:{}", literal, endpoint.port));
}

// Runs one probe of `target` to its end on a loop of its own; the loop closes clean.
Result<ProbeResult> ProbeOnce(const ProbeTarget& target, const ProbeOptions& options,
                              uint64_t start_ns, double* probe_start_ms) {
  uv_loop_t loop;
  if (int rc = uv_loop_init(&loop); rc < 0) {
    return Result<ProbeResult>::Error(std::string("cannot start a loop: ") + uv_strerror(rc));
  }
  std::optional<ProbeResult> result;
  Status started;
  {
    Result<std::unique_ptr<Prober>> prober = Prober::Create(&loop, options);
    if (!prober) {
      started = prober.status();
    } else {
      Prober* p = prober->get();
      *probe_start_ms = MsSince(start_ns);
      started = p->Start(target, [&result, p](ProbeResult r) {
        result = std::move(r);
        p->Shutdown();  // closes a socket kept for reuse, so the loop can end
      });
      if (started) uv_run(&loop, UV_RUN_DEFAULT);
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);  // the handles the Prober closed on its way out
  uv_loop_close(&loop);
  if (!started) return started;
  if (!result) return Result<ProbeResult>::Error("the probe ended without a result");
  return std::move(*result);
}

}  // namespace

Result<ProbeRun> RunProbe(const ProbeEndpoint& endpoint, const CheckOptions& check,
                          const ProbeOptions& options) {
  std::signal(SIGPIPE, SIG_IGN);
  const uint64_t start_ns = uv_hrtime();
  ProbeRun run;
  Result<PeerAddress> address = AddressOf(endpoint, &run);
  if (!address) return address.status();
  run.resolved_ms = MsSince(start_ns);
  run.address = address->host;
  run.peer = endpoint.name.empty() ? PeerAddressName(*address) : endpoint.name;
  std::optional<int> port_override;
  // Out of range stays out of range, for MakeProbeTarget's message.
  if (check.port) port_override = static_cast<int>(std::clamp<int64_t>(*check.port, -1, 65536));
  Result<ProbeTarget> target = MakeProbeTarget(run.peer, *address, port_override);
  if (!target) return target.status();
  Result<ProbeResult> result = ProbeOnce(*target, options, start_ns, &run.probe_start_ms);
  if (!result) return result.status();
  run.result = std::move(*result);
  return run;
}

}  // namespace upcheck::probe_tool
