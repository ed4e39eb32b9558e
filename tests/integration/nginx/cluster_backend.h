// ClusterBackend: a loopback HTTP backend that tells the health checker's probes apart from
// the requests nginx proxies to it, so multi-worker tests can count each kind at the peer.
//
// It listens on 127.0.0.1 (port 0: the kernel picks) and serves every connection from one
// thread of its own: a request for `probe_path` is a probe, answered as ProbeMode says; any
// other request is proxied traffic, answered "200" with the backend's port as the body, then
// the connection is closed. Every method is thread-safe; the destructor stops the thread.
#ifndef UPCHECK_TESTS_INTEGRATION_NGINX_CLUSTER_BACKEND_H_
#define UPCHECK_TESTS_INTEGRATION_NGINX_CLUSTER_BACKEND_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace upcheck::testing {

class ClusterBackend {
 public:
  enum class ProbeMode : uint8_t {
    kOk,     // 200
    kFail,   // 500
    kClose,  // read the probe, close without a word
    kHang,   // read the probe, never answer; SetProbeMode() answers the held ones
  };

  explicit ClusterBackend(std::string probe_path = "/status");
  ~ClusterBackend();
  ClusterBackend(const ClusterBackend&) = delete;
  ClusterBackend& operator=(const ClusterBackend&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:PORT", as nginx names the peer

  // Probes and proxied requests read so far; each is counted before its answer is sent.
  int probes() const { return probes_.load(); }
  int proxied() const { return proxied_.load(); }
  int held() const { return held_.load(); }  // probes held open now (kHang)

  // Applies to probes read from now on; probes held by kHang are answered by the new mode
  // (or stay held if it is kHang again).
  void SetProbeMode(ProbeMode mode);

  // Polls `probes() >= n` every 10 ms until the deadline. True if it got there.
  bool WaitForProbes(int n, std::chrono::milliseconds deadline) const;
  bool WaitForHeld(int n, std::chrono::milliseconds deadline) const;

  void Stop();  // idempotent

 private:
  struct Conn {
    int fd = -1;
    std::string in;
    bool held = false;
  };
  void Loop();
  void Accept();
  // Reads what `c` sent; false when the connection is finished (answered or gone).
  bool Read(Conn& c);
  bool Answer(Conn& c, bool probe);
  void AnswerHeld();

  std::string probe_path_;
  std::string error_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd: Stop() and SetProbeMode() wake the loop
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<ProbeMode> mode_{ProbeMode::kOk};
  std::vector<Conn> conns_;  // the loop thread's only
  std::atomic<int> probes_{0};
  std::atomic<int> proxied_{0};
  std::atomic<int> held_{0};
};

}  // namespace upcheck::testing

#endif  // UPCHECK_TESTS_INTEGRATION_NGINX_CLUSTER_BACKEND_H_
