#include "probe/epoll_probes.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace upcheck {

namespace {

constexpr int kEventsPerWait = 128;

}  // namespace

// ---- Life cycle -----------------------------------------------------------------------

EpollProbes* EpollProbes::Create(const ProbeEnv& env) {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) {
    return nullptr;
  }
  auto* probes = new EpollProbes(env, fd);
  // libuv watches the epoll set's descriptor: the probes still run on the checker's loop.
  if (uv_poll_init(env.loop, &probes->poll_, fd) != 0) {
    delete probes;  // no handle registered yet
    return nullptr;
  }
  uv_timer_init(env.loop, &probes->timer_);  // cannot fail on Unix
  probes->poll_.data = probes;
  probes->timer_.data = probes;
  return probes;
}

EpollProbes::EpollProbes(const ProbeEnv& env, int epoll_fd) : env_(env), epoll_fd_(epoll_fd) {}

EpollProbes::~EpollProbes() { close(epoll_fd_); }

void EpollProbes::Close() {
  if (closing_) {
    return;
  }
  closing_ = true;
  for (auto& slot : slots_) {
    if (slot->fd >= 0) {
      close(slot->fd);
      slot->fd = -1;
    }
    slot->done = nullptr;  // release what the callback holds now
  }
  finished_.clear();
  idle_v4_.clear();
  idle_v6_.clear();
  active_ = 0;
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), OnClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnClose);
}

void EpollProbes::OnClose(uv_handle_t* handle) {
  auto* self = static_cast<EpollProbes*>(handle->data);
  if (--self->open_handles_ == 0) {
    delete self;
  }
}

std::vector<uint32_t>* EpollProbes::IdleOf(int family) {
  return family == AF_INET ? &idle_v4_ : family == AF_INET6 ? &idle_v6_ : nullptr;
}

// A slot with a pooled socket of `family` if there is one, else one without a socket. So a
// socket is created only when none of its family is idle: the sockets of a family never
// outnumber the most probes ever in flight at once, and need no cap of their own.
uint32_t EpollProbes::Acquire(int family) {
  uint32_t index;
  std::vector<uint32_t>* idle = IdleOf(family);
  if (idle != nullptr && !idle->empty()) {
    index = idle->back();
    idle->pop_back();
    ++reused_;
  } else if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<uint32_t>(slots_.size());
    slots_.push_back(std::make_unique<Slot>());
  }
  slots_[index]->in_use = true;
  return index;
}

void EpollProbes::Release(uint32_t index) {
  Slot& s = *slots_[index];
  ++s.generation;
  s.in_use = false;
  s.connected = false;
  s.peer_closed = false;
  s.sent = 0;
  s.target = nullptr;
  s.state.Reset();
  std::vector<uint32_t>* idle = s.fd >= 0 ? IdleOf(s.family) : nullptr;
  (idle != nullptr ? *idle : free_).push_back(index);
}

// ---- A probe --------------------------------------------------------------------------

void EpollProbes::Start(const ProbeTarget& target, ProbeCallback done) {
  uint32_t index = Acquire(target.address.ss_family);
  Slot& s = *slots_[index];
  s.target = &target;
  s.done = std::move(done);
  s.state.Start();
  s.started_wait = wait_count_;
  ++active_;
  starting_ = true;
  Begin(index);
  starting_ = false;
  UpdatePolling();
  ArmTimer();
}

void EpollProbes::Begin(uint32_t index) {
  Slot& s = *slots_[index];
  const sockaddr_storage& address = s.target->address;
  if (s.fd < 0) {  // else a pooled socket of this family: unconnected, in the epoll set
    s.fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0) {
      Finish(index, ProbeKind::kSocket, SocketErrorText(-errno));
      return;
    }
    s.family = address.ss_family;
  }
  EnterStep(index, ProbeStep::kConnect);
  socklen_t length = address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (connect(s.fd, reinterpret_cast<const sockaddr*>(&address), length) == 0) {
    s.connected = true;
  } else if (errno != EINPROGRESS && errno != EINTR) {
    Finish(index, ProbeKind::kConnect, SocketErrorText(-errno));
    return;
  }
  SendRequest(index);
}

void EpollProbes::EnterStep(uint32_t index, ProbeStep step) {
  Slot& s = *slots_[index];
  s.state.Enter(step);
  Unlink(index);
  // uv_hrtime, not the loop's cached time: a step may start long after the loop last
  // woke up (a checker starts probes from its own timer or before the loop runs).
  s.deadline_ns = uv_hrtime() + env_.timeout_ms * 1000000;
  s.prev = tail_;
  s.next = kNone;
  if (tail_ != kNone) {
    slots_[tail_]->next = index;
  } else {
    head_ = index;
  }
  tail_ = index;
  s.linked = true;
}

void EpollProbes::Unlink(uint32_t index) {
  Slot& s = *slots_[index];
  if (!s.linked) {
    return;
  }
  (s.prev != kNone ? slots_[s.prev]->next : head_) = s.next;
  (s.next != kNone ? slots_[s.next]->prev : tail_) = s.prev;
  s.prev = s.next = kNone;
  s.linked = false;
}

// Sends what is left of the request. Right after connect() the handshake has usually
// completed on loopback and the request goes at once; EAGAIN means it has not (or the
// send buffer is full) and the probe waits for EPOLLOUT. An error before the connection
// was seen established is the connect's: ECONNREFUSED and the like come from the
// handshake; EPIPE and ECONNRESET only from a connection that was established.
void EpollProbes::SendRequest(uint32_t index) {
  Slot& s = *slots_[index];
  if (!SendsRequest(env_.options->scheme)) {  // tcp: the connect is the whole probe
    if (s.connected) {
      Finish(index, ProbeKind::kOk, {});
    } else if (!s.registered) {
      Register(index);
    }
    return;
  }
  const std::string& request = env_.options->request;
  if (request.empty() && !s.connected) {
    if (!s.registered) {
      Register(index);  // nothing to send: the connect must be confirmed by EPOLLOUT
    }
    return;
  }
  while (s.sent < request.size()) {
    ssize_t n =
        send(s.fd, request.data() + s.sent, request.size() - s.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      if (s.state.step() == ProbeStep::kConnect) {
        s.connected = true;
        EnterStep(index, ProbeStep::kSend);
      }
      s.sent += static_cast<size_t>(n);
      continue;
    }
    int error = errno;
    if (error == EINTR) {
      continue;
    }
    if (error == EAGAIN || error == EWOULDBLOCK) {
      if (!s.registered) {
        Register(index);
      }
      return;
    }
    bool connect_error = s.state.step() == ProbeStep::kConnect && !s.connected && error != EPIPE &&
                         error != ECONNRESET;
    Finish(index, connect_error ? ProbeKind::kConnect : ProbeKind::kSend, SocketErrorText(-error));
    return;
  }
  if (s.state.step() == ProbeStep::kConnect) {
    EnterStep(index, ProbeStep::kSend);  // an empty request, once connected
  }
  EnterStep(index, ProbeStep::kReceive);
  if (!s.registered) {
    Register(index);
  }
}

// Edge-triggered: the socket reports each change once, so reads go on until EAGAIN. Once
// per socket, for every event any step waits for: a pooled socket stays registered, keyed
// by its slot, so no epoll_ctl runs per probe.
void EpollProbes::Register(uint32_t index) {
  Slot& s = *slots_[index];
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ++s.socket_generation;
  event.data.u64 = (uint64_t{s.socket_generation} << 32) | index;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s.fd, &event) < 0) {
    Finish(index, StepKind(s.state.step()), SocketErrorText(-errno));
    return;
  }
  s.registered = true;
}

void EpollProbes::OnEvents(uint32_t index, uint32_t events) {
  Slot& s = *slots_[index];
  constexpr uint32_t kInbound = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
  if (s.state.step() == ProbeStep::kReceive && (events & kInbound) == 0) {
    return;  // EPOLLOUT alone: nothing to read
  }
  if ((events & (EPOLLRDHUP | EPOLLHUP)) != 0) {
    s.peer_closed = true;
  }
  if (s.state.step() == ProbeStep::kConnect && !s.connected) {
    if ((events & EPOLLERR) != 0) {
      int error = 0;
      socklen_t length = sizeof(error);
      if (getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0) {
        error = errno;
      }
      Finish(index, ProbeKind::kConnect, SocketErrorText(error != 0 ? -error : -ECONNRESET));
      return;
    }
    if ((events & (EPOLLOUT | EPOLLHUP)) == 0) {
      return;
    }
    s.connected = true;
  }
  if (s.state.step() != ProbeStep::kReceive) {
    uint32_t generation = s.generation;
    SendRequest(index);
    // A finished probe was delivered (Finish runs no deferral here): the slot was
    // released, and bumped its generation, even if a callback took it again.
    if (s.generation != generation || s.state.step() != ProbeStep::kReceive) {
      return;
    }
    if ((events & kInbound) == 0) {
      return;  // the request just went out: the answer cannot be here yet
    }
  }
  ReadLine(index);
}

void EpollProbes::ReadLine(uint32_t index) {
  Slot& s = *slots_[index];
  bool progress = false;
  for (;;) {
    ssize_t n = read(s.fd, read_buffer_, sizeof(read_buffer_));
    if (n > 0) {
      if (s.state.TakeAnswer(read_buffer_, static_cast<size_t>(n), env_, s.target->name)) {
        Settle(index);
        return;
      }
      progress = true;
      continue;
    }
    if (n == 0) {
      s.peer_closed = true;
      if (s.state.TakeClose(s.target->name)) {
        Settle(index);  // the end of a body read up to the close
      } else {
        Finish(index, ProbeKind::kReceive, SocketErrorText(UV_EOF));
      }
      return;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      Finish(index, ProbeKind::kReceive, SocketErrorText(-errno));
    } else if (progress) {
      EnterStep(index, ProbeStep::kReceive);  // bytes came: the receive timeout restarts
    }
    return;
  }
}

// ---- Outcomes -------------------------------------------------------------------------

void EpollProbes::Finish(uint32_t index, ProbeKind kind, std::string error) {
  Slot& s = *slots_[index];
  if (s.state.Finish(kind, s.target->name, std::move(error))) {
    Settle(index);
  }
}

// The outcome is recorded: the socket is pooled or closed, then the outcome delivered. The
// peer closing its side is the usual HTTP/1.0 answer; the connection is then reset, so the
// peer keeps no TIME_WAIT entry per probe.
void EpollProbes::Settle(uint32_t index) {
  Slot& s = *slots_[index];
  Unlink(index);
  if (s.fd >= 0) {
    bool pool = s.state.answered() && s.peer_closed && s.state.step() == ProbeStep::kReceive &&
                s.registered && IdleOf(s.family) != nullptr;
    if (!pool || !Disconnect(index)) {
      CloseSocket(index);
    }
  }
  if (starting_) {
    finished_.push_back(index);  // never call back from inside Start()
    return;
  }
  Deliver(index);
}

// The peer has closed its side: connect(AF_UNSPEC) resets the connection (as a close
// with SO_LINGER 0 would) and leaves the socket unconnected and unbound, like a new one.
// It also leaves ECONNRESET pending (SO_ERROR; the idle socket reports EPOLLERR, ignored),
// which no probe sees: the next connect() clears it before sending its SYN (Linux,
// tcp_connect_init), so a getsockopt(SO_ERROR) here would be one more system call for
// nothing. False, and the socket is as it was, if the disconnect fails.
bool EpollProbes::Disconnect(uint32_t index) {
  Slot& s = *slots_[index];
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  return connect(s.fd, &unspec, sizeof(unspec)) == 0;
}

void EpollProbes::CloseSocket(uint32_t index) {
  Slot& s = *slots_[index];
  if (s.peer_closed && s.state.step() == ProbeStep::kReceive) {
    // The peer has closed its side: an RST frees both ends at once. Otherwise a FIN, in
    // order, as the peer may still be sending.
    linger abortive{.l_onoff = 1, .l_linger = 0};
    setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive));
  }
  close(s.fd);  // also leaves the epoll set
  s.fd = -1;
  s.registered = false;
}

void EpollProbes::Deliver(uint32_t index) {
  Slot& s = *slots_[index];
  ProbeCallback done = std::move(s.done);
  ProbeResult result = s.state.TakeResult();
  Release(index);
  --active_;
  if (done) {
    done(std::move(result));  // may start probes, or Close() this object
  }
}

// ---- Loop callbacks -------------------------------------------------------------------

void EpollProbes::OnPoll(uv_poll_t* handle, int /*status*/, int /*events*/) {
  auto* self = static_cast<EpollProbes*>(handle->data);
  epoll_event events[kEventsPerWait];
  for (;;) {
    ++self->wait_count_;
    int n = epoll_wait(self->epoll_fd_, events, kEventsPerWait, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    for (int k = 0; k < n; ++k) {
      auto index = static_cast<uint32_t>(events[k].data.u64);
      auto generation = static_cast<uint32_t>(events[k].data.u64 >> 32);
      if (index >= self->slots_.size()) {
        continue;
      }
      const Slot& s = *self->slots_[index];
      if (!s.in_use || s.state.finished() || s.socket_generation != generation) {
        continue;  // an idle slot, or a probe that finished earlier in this batch
      }
      if (s.started_wait == self->wait_count_) {
        // Started in this batch, on a pooled socket: epoll_wait saw the socket's previous
        // owner (a disconnect reports EPOLLHUP|EPOLLERR|EPOLLOUT). Later events wake the set.
        continue;
      }
      self->OnEvents(index, events[k].events);
      if (self->closing_) {
        return;
      }
    }
    if (n < kEventsPerWait) {
      break;
    }
  }
  self->UpdatePolling();
  self->ArmTimer();
}

void EpollProbes::OnTimer(uv_timer_t* handle) {
  auto* self = static_cast<EpollProbes*>(handle->data);
  self->timer_armed_ = false;
  if (!self->finished_.empty()) {
    std::vector<uint32_t> ready;
    ready.swap(self->finished_);
    for (uint32_t index : ready) {
      self->Deliver(index);
      if (self->closing_) {
        return;
      }
    }
  }
  uint64_t now = uv_hrtime();
  while (self->head_ != kNone && self->slots_[self->head_]->deadline_ns <= now) {
    uint32_t index = self->head_;
    Slot& s = *self->slots_[index];
    if (s.state.TimeOut(s.target->name)) {
      self->Settle(index);
    }
    if (self->closing_) {
      return;
    }
  }
  self->UpdatePolling();
  self->ArmTimer();
}

// Only while probes are in flight: an idle prober must not keep the loop alive.
void EpollProbes::UpdatePolling() {
  if (closing_) {
    return;
  }
  bool want = active_ > finished_.size();
  if (want && !polling_) {
    uv_poll_start(&poll_, UV_READABLE, OnPoll);
    polling_ = true;
  } else if (!want && polling_) {
    uv_poll_stop(&poll_);
    polling_ = false;
  }
}

// One timer for every deadline: the list is in deadline order (every step lasts the same
// timeout and starts now), so the timer waits for the head. Outcomes decided inside
// Start() are delivered at once.
void EpollProbes::ArmTimer() {
  if (closing_) {
    return;
  }
  uint64_t now = uv_hrtime();
  uint64_t due = 0;
  if (!finished_.empty()) {
    due = now;
  } else if (head_ != kNone) {
    due = slots_[head_]->deadline_ns;
  } else {
    if (timer_armed_) {
      uv_timer_stop(&timer_);
      timer_armed_ = false;
    }
    return;
  }
  if (timer_armed_ && timer_due_ns_ <= due) {
    return;  // fires early enough, and arms itself again then
  }
  // Rounded up: libuv counts in whole ms of its cached time, and a timer that fires early
  // finds nothing expired and arms itself again.
  uint64_t delay_ms = due > now ? (due - now + 999999) / 1000000 : 0;
  uv_timer_start(&timer_, OnTimer, delay_ms, 0);
  timer_armed_ = true;
  timer_due_ns_ = due;
}

}  // namespace upcheck
