// Prober: starts health probes for one checker and can abort them all at shutdown.
//
// Owns what the probes share: the options, one TLS context (https, tls), one status-line
// parser and, for expect_header and expect_body, one ResponseMatcher. Each Start() runs one probe
// (see Probe) on the caller's libuv loop and reports through its callback. Shutdown() aborts the
// probes in flight without running their callbacks; run the loop afterwards until the probes'
// handles are closed (uv_run until it returns 0), and uv_loop_close() then succeeds. Loop thread
// only.
//
// Plain-HTTP and tcp probes over TCP run on EpollProbes (fewer system calls, see
// epoll_probes.h); TLS and unix: probes on Probe. UPCHECK_PROBE_ENGINE=libuv in the environment
// puts every probe on Probe (for comparisons, and so that the tests cover both engines).
//
// The process must ignore SIGPIPE, as nginx does: libuv writes with write(2), and a peer
// that resets the connection before the request is written would otherwise kill it.
#ifndef UPCHECK_PROBE_PROBER_H_
#define UPCHECK_PROBE_PROBER_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/prober.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#include <uv.h>

#include <cstddef>
#include <memory>

#include "probe/epoll_probes.h"
#include "probe/probe.h"
#include "probe/probe_options.h"
#include "probe/probe_target.h"
#include "probe/response_rules.h"
#include "probe/status_line.h"
#include "probe/tls_context.h"
#include "upcheck/status.h"

namespace upcheck {

class Prober {
 public:
  // Errors: a negative timeout ("bad timeout value", Q11), a trust store that cannot be
  // loaded (https or tls with ssl_verify), a client certificate or key that cannot, a bad
  // ALPN list, a status-line pattern or an expect_header or expect_body regex that does not
  // compile.
  static Result<std::unique_ptr<Prober>> Create(uv_loop_t* loop, ProbeOptions options);
  ~Prober();  // Shutdown()
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Starts probing `target`. `done` runs exactly once, from a loop callback (never inside
  // Start), once the probe's socket is closed (or pooled for reuse), unless Shutdown() runs
  // first; it may start probes, call Shutdown() or destroy this Prober. Error, and `done`
  // never runs: the prober is shut down. REQUIRES: `target` stays valid and unchanged
  // until `done` runs or Shutdown() is called.
  Status Start(const ProbeTarget& target, ProbeCallback done);

  // Aborts every probe in flight (their callbacks never run), closes the sockets kept for
  // reuse and refuses new ones. Idempotent.
  void Shutdown();

  size_t in_flight() const;
  // Sockets kept for reuse by the epoll engine, and probes that reused one (for tests).
  size_t idle_sockets() const;
  uint64_t sockets_reused() const;

 private:
  Prober(uv_loop_t* loop, ProbeOptions options, std::unique_ptr<TlsContext> tls,
         std::unique_ptr<StatusLineParser> parser, std::unique_ptr<ResponseMatcher> matcher);

  ProbeOptions options_;
  std::unique_ptr<TlsContext> tls_;  // https and tls only
  std::unique_ptr<StatusLineParser> parser_;
  std::unique_ptr<ResponseMatcher> matcher_;  // expect_header or expect_body only
  ProbeEnv env_;
  ProbeList probes_;              // probes on libuv handles (TLS, unix:, or by choice)
  EpollProbes* epoll_ = nullptr;  // plain-HTTP TCP probes; created on first use, frees
                                  // itself after Close()
  bool use_epoll_ = true;
  bool shut_down_ = false;
};

}  // namespace upcheck

#endif  // UPCHECK_PROBE_PROBER_H_
