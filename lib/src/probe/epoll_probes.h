// EpollProbes: plain-HTTP probes over TCP with as few system calls as the kernel allows.
//
// A probe of the libuv engine (Probe) costs nine system calls; on loopback nearly all of
// a probe's CPU time is spent in the kernel, so each one counts (issue 5). Here a probe is
//
//   socket, connect, send (optimistic: on loopback the handshake is usually complete when
//   connect returns), epoll_ctl ADD (edge-triggered), read, close
//
// plus a share of one epoll_wait per batch. The epoll set is this object's own; libuv
// watches its descriptor (uv_poll), so the probes still run on the checker's loop. When
// the send finds the handshake still in flight (EAGAIN) the probe waits for EPOLLOUT, and
// an error there is the connect's (getsockopt SO_ERROR). Closing removes the socket from
// the set, so there is no EPOLL_CTL_DEL. When the peer has already closed its side (the
// usual HTTP/1.0 answer), the socket is closed with an RST: the peer keeps no TIME_WAIT
// entry per probe, and no application can see the difference, its socket being closed.
//
// Same outcomes, texts and step timeouts as Probe (see probe.h); the tests of Prober run
// against both engines. TLS and unix: targets keep using Probe.
//
// Life cycle: created by a Prober on first use; Close() aborts every probe and frees the
// object once libuv has closed its handles. Loop thread only.
#ifndef UPCHECK_PROBE_EPOLL_PROBES_H_
#define UPCHECK_PROBE_EPOLL_PROBES_H_

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
  // once, from a loop callback, after the socket is closed, unless Close() comes first.
  void Start(const ProbeTarget& target, ProbeCallback done);

  // Aborts every probe (callbacks dropped unrun) and frees this object once libuv has
  // closed its handles. Safe from inside a probe's callback.
  void Close();

  size_t in_flight() const { return active_; }

  EpollProbes(const EpollProbes&) = delete;
  EpollProbes& operator=(const EpollProbes&) = delete;

 private:
  enum class Step : uint8_t { kConnect, kSend, kReceive };
  static constexpr uint32_t kNone = UINT32_MAX;
  static ProbeKind KindOf(Step step);

  struct Slot {
    int fd = -1;
    uint32_t generation = 0;  // bumped on release: events of a finished probe are ignored
    bool in_use = false;
    bool finished = false;     // the outcome is decided (delivery may wait, see finished_)
    bool registered = false;   // in the epoll set
    bool connected = false;    // the handshake is known to be complete
    bool peer_closed = false;  // EPOLLRDHUP or EOF seen
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

  uint32_t Acquire();
  void Release(uint32_t index);
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
  std::vector<uint32_t> free_;
  std::vector<uint32_t> finished_;  // outcomes decided inside Start(), delivered by the timer
  uint32_t head_ = kNone;           // the deadline list
  uint32_t tail_ = kNone;
  uint64_t timer_due_ns_ = 0;  // when the timer is armed, its due time (uv_hrtime)
  bool timer_armed_ = false;
  char read_buffer_[Probe::kReadBufferBytes];
};

}  // namespace upcheck

#endif  // UPCHECK_PROBE_EPOLL_PROBES_H_
