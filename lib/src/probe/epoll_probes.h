// EpollProbes: plain-HTTP probes over TCP on an epoll set of their own, for the fewest
// system calls per probe (Probe takes nine): connect, send, read, and connect(AF_UNSPEC)
// to pool the socket; tcp probes end at the connect and close. Prober runs kHttp and kTcp
// TCP targets here, TLS and unix: ones on Probe;
// outcomes, texts and step timeouts are Probe's (ProbeState), and Prober's tests run both.
// Loop thread only; Close() frees the object once libuv has closed its handles.
#ifndef UPCHECK_PROBE_EPOLL_PROBES_H_
#define UPCHECK_PROBE_EPOLL_PROBES_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/epoll_probes.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "probe/probe_state.h"
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
  static constexpr uint32_t kNone = UINT32_MAX;

  // A probe, and the socket it keeps between probes (pooled when it is idle with one).
  struct Slot {
    int fd = -1;
    int family = AF_UNSPEC;          // of fd
    uint32_t generation = 0;         // bumped on release
    uint32_t socket_generation = 0;  // bumped per socket registered: in the epoll data
    uint64_t started_wait = 0;       // wait_count_ when the probe started
    bool in_use = false;
    bool registered = false;   // fd is in the epoll set (stays so while pooled)
    bool connected = false;    // the handshake is known to be complete
    bool peer_closed = false;  // EPOLLRDHUP or EOF seen
    bool linked = false;       // in the deadline list
    size_t sent = 0;
    uint64_t deadline_ns = 0;  // of the current step (uv_hrtime)
    uint32_t prev = kNone;     // the deadline list, earliest first
    uint32_t next = kNone;
    const ProbeTarget* target = nullptr;
    ProbeCallback done;
    ProbeState state;  // finished: decided, though delivery may wait (see finished_)
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
  void EnterStep(uint32_t index, ProbeStep step);
  void Register(uint32_t index);
  void Finish(uint32_t index, ProbeKind kind, std::string error);
  void Settle(uint32_t index);
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
  char read_buffer_[kProbeReadBufferBytes];
};

}  // namespace upcheck

#endif  // UPCHECK_PROBE_EPOLL_PROBES_H_
