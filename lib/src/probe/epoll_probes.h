// EpollProbes: plain-HTTP probes over TCP with as few system calls as the kernel allows.
//
// A probe of the libuv engine (Probe) costs nine system calls; on loopback nearly all of
// a probe's CPU time is spent in the kernel, so each one counts (issue 5). Here a probe is
//
//   connect, send (optimistic: on loopback the handshake is usually complete by then),
//   read, and then connect(AF_UNSPEC), which puts the socket back in a pool (or close,
//   see below)
//
// plus a share of one epoll_wait per batch. A socket is created (socket, then one
// edge-triggered EPOLL_CTL_ADD for EPOLLIN|EPOLLOUT|EPOLLRDHUP) only when the pool has
// none of the target's address family; it then stays in the epoll set, keyed by its slot,
// for as long as it lives, so no epoll_ctl runs per probe. The epoll set is this object's
// own; libuv watches its descriptor (uv_poll), so the probes still run on the checker's
// loop. When the send finds the handshake still in flight (EAGAIN) the probe waits for
// EPOLLOUT, and an error there is the connect's (getsockopt SO_ERROR).
//
// The end of a probe. When the peer has already closed its side (the usual HTTP/1.0
// answer), the connection is reset: the peer keeps no TIME_WAIT entry per probe, and no
// application can see the difference, its socket being closed. If the status line was
// read, connect(AF_UNSPEC) sends that RST and leaves the socket unconnected and unbound,
// like a new one, and the socket is pooled (see Disconnect() on the error it leaves).
// Otherwise (an error, a timeout, a peer that keeps its side open) the socket is closed
// as before: with an RST (SO_LINGER 0) once the peer has closed, in order (FIN) when it
// has not.
//
// The pool's bound. A socket is created only when the pool has none of the target's
// family, so the sockets of a family, in use and pooled, never outnumber the most probes
// ever in flight at once (a checker's concurrency): the descriptors stay flat without a
// cap of their own. The pool is emptied by Close(); it does not keep the loop alive
// (polling stops when no probe is in flight, whatever idle sockets report).
//
// Events of a reused socket. epoll reports the socket's state when epoll_wait runs, so
// an event is current unless its socket changed owner since: a pooled socket reports
// EPOLLHUP|EPOLLERR|EPOLLOUT (the disconnect wakes it), and a probe started later in the
// same batch may have taken it. Events of a batch are ignored for slots started after that
// batch's epoll_wait; whatever happens to their sockets afterwards wakes the set again.
// Events of idle slots are ignored, and so, in the receive step, are wake-ups without
// EPOLLIN, EPOLLRDHUP, EPOLLHUP or EPOLLERR (the socket is registered for EPOLLOUT too).
//
// Same outcomes, texts and step timeouts as Probe (see probe.h); the tests of Prober run
// against both engines. TLS and unix: targets keep using Probe.
//
// Life cycle: created by a Prober on first use; Close() aborts every probe, closes every
// socket and frees the object once libuv has closed its handles. Loop thread only.
#ifndef UPCHECK_PROBE_EPOLL_PROBES_H_
#define UPCHECK_PROBE_EPOLL_PROBES_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/epoll_probes.h belongs to probe/, a layer above this one (see lib/meson.build)"
#endif

#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "probe/first_line.h"
#include "probe/probe.h"
#include "probe/probe_result.h"
#include "probe/probe_target.h"

namespace upcheck {

class EpollProbes {
 public:
  // nullptr when the kernel refuses an epoll set (the caller uses Probe instead).
  static EpollProbes* Create(const ProbeEnv& env);

  // Starts probing `target` (kTcp). Same contract as Probe::Start: `done` runs exactly
  // once, from a loop callback, after the socket is closed (or disconnected and pooled),
  // unless Close() comes first.
  void Start(const ProbeTarget& target, ProbeCallback done);

  // Aborts every probe (callbacks dropped unrun), closes the pooled sockets and frees this
  // object once libuv has closed its handles. Safe from inside a probe's callback.
  void Close();

  size_t in_flight() const { return active_; }
  // Sockets in the pool, and probes that took theirs from it (for tests).
  size_t idle_sockets() const { return idle_v4_.size() + idle_v6_.size(); }
  uint64_t sockets_reused() const { return reused_; }

  EpollProbes(const EpollProbes&) = delete;
  EpollProbes& operator=(const EpollProbes&) = delete;

 private:
  enum class Step : uint8_t { kConnect, kSend, kReceive };
  static constexpr uint32_t kNone = UINT32_MAX;
  static ProbeKind KindOf(Step step);

  // A probe, and the socket it keeps between probes (pooled when it is idle with one).
  struct Slot {
    int fd = -1;
    int family = AF_UNSPEC;          // of fd
    uint32_t generation = 0;         // bumped on release
    uint32_t socket_generation = 0;  // bumped per socket registered: in the epoll data
    uint64_t started_wait = 0;       // wait_count_ when the probe started
    bool in_use = false;
    bool finished = false;     // the outcome is decided (delivery may wait, see finished_)
    bool registered = false;   // fd is in the epoll set (stays so while pooled)
    bool connected = false;    // the handshake is known to be complete
    bool peer_closed = false;  // EPOLLRDHUP or EOF seen
    bool answered = false;     // the status line was read whole
    bool linked = false;       // in the deadline list
    Step step = Step::kConnect;
    size_t sent = 0;
    uint64_t deadline_ns = 0;  // of the current step (uv_hrtime)
    uint64_t start_ns = 0;
    uint32_t prev = kNone;  // the deadline list, earliest first
    uint32_t next = kNone;
    const ProbeTarget* target = nullptr;
    ProbeCallback done;
    FirstLine line;
    ProbeResult result;
  };

  EpollProbes(const ProbeEnv& env, int epoll_fd);
  ~EpollProbes();

  uint32_t Acquire(int family);
  void Release(uint32_t index);
  std::vector<uint32_t>* IdleOf(int family);
  bool Disconnect(uint32_t index);
  void CloseSocket(uint32_t index);
  void Begin(uint32_t index);
  void OnEvents(uint32_t index, uint32_t events);
  void SendRequest(uint32_t index);
  void ReadLine(uint32_t index);
  void EnterStep(uint32_t index, Step step);
  void Register(uint32_t index);
  void Finish(uint32_t index, ProbeKind kind, std::string error, bool timed_out = false);
  void Deliver(uint32_t index);
  void Unlink(uint32_t index);
  void ArmTimer();
  void UpdatePolling();

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  static void OnClose(uv_handle_t* handle);

  ProbeEnv env_;
  int epoll_fd_;
  uv_poll_t poll_;
  uv_timer_t timer_;
  int open_handles_ = 2;
  bool polling_ = false;
  bool closing_ = false;
  bool starting_ = false;  // inside Start(): outcomes wait for a loop callback
  size_t active_ = 0;      // probes started and not delivered
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<uint32_t> free_;     // idle slots without a socket
  std::vector<uint32_t> idle_v4_;  // idle slots with a pooled socket, by family
  std::vector<uint32_t> idle_v6_;
  uint64_t reused_ = 0;
  uint64_t wait_count_ = 0;         // epoll_wait calls so far
  std::vector<uint32_t> finished_;  // outcomes decided inside Start(), delivered by the timer
  uint32_t head_ = kNone;           // the deadline list
  uint32_t tail_ = kNone;
  uint64_t timer_due_ns_ = 0;  // when the timer is armed, its due time (uv_hrtime)
  bool timer_armed_ = false;
  char read_buffer_[Probe::kReadBufferBytes];
};

}  // namespace upcheck

#endif  // UPCHECK_PROBE_EPOLL_PROBES_H_
