// Probe: one health probe in flight on libuv handles (protocol.md §8): connect (TCP or unix
// socket), TLS handshake for https, send the request verbatim, then read and judge the first
// line (ProbeState, shared with EpollProbes). A tcp probe ends ok at the connect, a tls one
// at the handshake (with the certificate and ALPN checked), sending nothing. Where ngx_lua has no
// error text to copy, ours say what happened: "status line too long", "ssl read failed: <OpenSSL
// reason>". Created by Prober, which owns the ProbeEnv it borrows; a probe closes its socket before
// it reports and frees itself in the close callback of its last handle. Loop thread only.
#ifndef UPCHECK_PROBE_PROBE_H_
#define UPCHECK_PROBE_PROBE_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_PROBE)
#error "probe/probe.h belongs to probe/, a layer above (see lib/meson.build)"
#endif

#include <openssl/ssl.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "probe/probe_state.h"
#include "probe/probe_target.h"

namespace upcheck {

class ProbeList;

class Probe {
 public:
  // Starts probing `target` and adds the probe to `list`. `done` runs exactly once, from
  // a loop callback (never inside Start), after the probe's handles are closed, unless
  // Abort() is called first. REQUIRES: `env`'s pointees and `target` stay valid until
  // `done` runs or Abort() returns; `list` until the probe leaves it.
  static void Start(const ProbeEnv& env, const ProbeTarget& target, ProbeCallback done,
                    ProbeList* list);

  // Drops the callback unrun and closes the probe's handles. The probe leaves its list
  // now and frees itself once libuv has closed its handles (run the loop); from here on
  // it touches neither the env nor the target.
  void Abort();

  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

 private:
  friend class ProbeList;
  Probe(const ProbeEnv& env, const ProbeTarget& target, ProbeCallback done);
  ~Probe();

  void Begin();
  bool OpenSocket();
  void StartStep(ProbeStep step);
  void BeginHandshake();
  void DriveHandshake();
  bool CheckPeerCertificate();
  bool CheckAlpn();
  void EndAfterHandshake();
  void Succeed();
  void BeginSend();
  void BeginReceive();
  void DrainTls();
  void ConsumeLine(const char* data, size_t size);
  bool FlushTls();
  void SubmitWrite();
  void Fail(ProbeKind kind, std::string error);
  void Settle();
  void Close();
  void SendCloseNotify();
  void OnClosed();

  static void OnConnect(uv_connect_t* req, int status);
  static void OnWrite(uv_write_t* req, int status);
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnTimeout(uv_timer_t* timer);
  static void OnClose(uv_handle_t* handle);

  ProbeEnv env_;
  const ProbeTarget* target_;
  ProbeCallback done_;
  ProbeList* list_ = nullptr;
  Probe* prev_ = nullptr;
  Probe* next_ = nullptr;

  union Socket {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } socket_;
  uv_timer_t timer_;
  uv_connect_t connect_req_;
  uv_write_t write_req_;
  int open_handles_ = 0;  // handles initialised and not yet closed
  bool socket_open_ = false;
  bool writing_ = false;  // write_req_ in flight
  bool aborted_ = false;
  ProbeState state_;

  // https: the network side of `ssl_` is a pair of memory BIOs that this probe pumps.
  SSL* ssl_ = nullptr;
  BIO* network_in_ = nullptr;   // owned by ssl_
  BIO* network_out_ = nullptr;  // owned by ssl_
  std::string out_pending_;     // TLS bytes waiting for the write in flight
  std::string out_in_flight_;   // TLS bytes of write_req_
  int peer_closed_ = 0;         // the libuv error (UV_EOF, ...) that ended reading

  char read_buffer_[kProbeReadBufferBytes];
};

// The probes in flight of one owner. Intrusive: adding and removing allocate nothing.
class ProbeList {
 public:
  ProbeList() = default;
  ~ProbeList() { AbortAll(); }
  ProbeList(const ProbeList&) = delete;
  ProbeList& operator=(const ProbeList&) = delete;

  // Aborts every probe in the list (see Probe::Abort); the list is then empty.
  void AbortAll();
  size_t size() const { return size_; }

 private:
  friend class Probe;
  void Add(Probe* probe);
  void Remove(Probe* probe);

  Probe* head_ = nullptr;
  size_t size_ = 0;
};

}  // namespace upcheck

#endif  // UPCHECK_PROBE_PROBE_H_
