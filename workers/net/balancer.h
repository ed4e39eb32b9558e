// Balancer: a TCP balancer over one upstream, on a libuv loop that the caller owns.
//
// Each accepted client gets a peer from this worker's own view (Upstreams::Pick():
// round-robin over the up primary peers, else the up backups; with slow_start or
// panic_threshold set, BalancerPick's weighted choice); with none up the client is
// closed at once. Otherwise the balancer connects to the peer (IPv4, IPv6 or unix socket)
// within connect_timeout_ms and relays bytes both ways with backpressure (it stops reading
// a side while the other side has more than max_queued_bytes waiting to be written) and
// half-close (an EOF from one side shuts down writing to the other; both close once both
// directions ended, or at the first error). A failed connect closes the client and logs a
// warning naming the peer; no payload byte is ever logged. Each connection's outcome goes
// to on_passive once (passive checks): its peer's first byte or clean EOF is a success; a
// connect refused or timed out, or a reset from the peer before that, a failure.
// Loop thread only; the view and
// the logger must outlive the balancer. Not copyable.
#ifndef UPCHECK_WORKERS_NET_BALANCER_H_
#define UPCHECK_WORKERS_NET_BALANCER_H_

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "balancer_pick.h"
#include "upcheck/check_event.h"
#include "upcheck/internal/registry.h"
#include "upcheck/log.h"
#include "upcheck/status.h"
#include "upcheck/upstreams.h"

namespace upcheck {

struct BalancerOptions {
  uint64_t connect_timeout_ms = 5000;
  size_t max_queued_bytes = size_t{256} * 1024;  // per direction, before reading pauses
  size_t max_connections = 4096;                 // clients at once; more are closed at once
  // Optional: called on the loop with each connection's outcome (see above).
  std::function<void(const PeerInfo& peer, PassiveResult result)> on_passive = nullptr;
  // slow_start and panic_threshold (DESIGN §10); both 0: Upstreams::Pick() as it is.
  BalancerPickOptions pick{};
  // Where the peers' last transitions and the shared panic state are; may be null (no slow
  // start then, and the panic state is this balancer's own). Must outlive the balancer.
  Registry* registry = nullptr;
};

// Counters for tests and diagnostics.
struct BalancerStats {
  size_t active = 0;              // client connections open now
  uint64_t accepted = 0;          // clients accepted
  uint64_t refused = 0;           // closed at once: no peer up, or over max_connections
  uint64_t connect_failures = 0;  // peers that could not be reached in time
  uint64_t read_pauses = 0;       // times backpressure stopped reading a side
  size_t peak_queued_bytes = 0;   // largest write queue of one direction seen
};

class Balancer {
 public:
  // Starts accepting on `listen_fd`, an already bound and listening TCP socket. The
  // balancer takes ownership of the descriptor whatever the outcome. `logger` may be null.
  static Result<std::unique_ptr<Balancer>> Start(uv_loop_t* loop, int listen_fd, Upstreams* view,
                                                 std::string upstream, const Logger* logger,
                                                 BalancerOptions options = {});

  // Close()s; the handles are freed in their close callbacks, so run the loop afterwards
  // until it has nothing left.
  ~Balancer();
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  // Stops accepting and closes every client and peer connection. Idempotent.
  void Close();

  // Stops accepting and lets the connections in flight finish; `on_idle` runs on the loop
  // once the listener is closed and the last connection ended (never from inside Drain()).
  // Close() still closes what is left. Once only; ignored after Close().
  void Drain(std::function<void()> on_idle);

  BalancerStats stats() const;  // all zero after Close()

  class Impl;

 private:
  explicit Balancer(Impl* impl);
  Impl* impl_;  // owned until Close(); then frees itself once its handles are closed
};

}  // namespace upcheck

#endif  // UPCHECK_WORKERS_NET_BALANCER_H_
