// RedisClient: one Redis connection on a worker's libuv loop (hiredis's async API, attached
// by redis_uv_events.h), for the fleet tier (DESIGN §11). A command with no reply within
// Options::timeout_ms fails ("no reply within N ms (timeout)") and drops the connection; the
// next command connects again. Each callback runs exactly once, from the loop, never inside
// Command(), and may destroy the client; destroying it cancels the rest without calling back.
// The loop's thread only; the process must ignore SIGPIPE (hiredis writes with write(2)).
#ifndef UPCHECK_FLEET_REDIS_CLIENT_H_
#define UPCHECK_FLEET_REDIS_CLIENT_H_
#if defined(UPCHECK_LAYERED_BUILD) && !defined(UPCHECK_SEES_FLEET)
#error "fleet/redis_client.h belongs to fleet/, a layer above (see lib/meson.build)"
#endif

#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "upcheck/peer_address.h"
#include "upcheck/status.h"

struct redisAsyncContext;

namespace upcheck::fleet {

// A reply that is not an error: Redis error replies (WRONGTYPE, NOAUTH, ...) are errors.
struct RedisReply {
  enum class Kind : uint8_t { kNil, kInteger, kString, kStatus, kArray };
  Kind kind = Kind::kNil;
  int64_t integer = 0;               // kInteger
  std::string text;                  // kString, kStatus ("OK")
  std::vector<RedisReply> elements;  // kArray
};

class RedisClient {
 public:
  struct Options {
    std::string address;  // "ipv4:port", "[ipv6]:port" or "unix:/path"
    int64_t timeout_ms = 200;
    std::optional<std::string> password;  // AUTH, sent first on each connection
  };
  using Callback = std::function<void(Result<RedisReply>)>;
  using Replies = std::vector<Result<RedisReply>>;
  using BatchCallback = std::function<void(Replies)>;

  // Error: an address ParsePeerAddress() refuses, or a timeout below 1 ms. Connects lazily.
  static Result<std::unique_ptr<RedisClient>> Create(uv_loop_t* loop, Options options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends `args` (connecting first if need be); `done` gets the reply or an error that
  // starts with "redis <address>: ".
  void Command(const std::vector<std::string>& args, Callback done);
  // Sends `commands` back to back, in one write once connected (one round trip, one
  // deadline); `done` gets one reply or error per command, in order. Losing the connection
  // fails every command without a reply yet.
  void Pipeline(const std::vector<std::vector<std::string>>& commands, BatchCallback done);

  bool connected() const;
  int connects() const { return connects_; }  // connections opened so far

 private:
  struct Pending;
  RedisClient(uv_loop_t* loop, Options options, PeerAddress address);

  Status Connect();
  Pending* NewPending(BatchCallback done, size_t commands);
  void Send(Pending* p, const std::vector<std::vector<std::string>>& commands);
  // Fails every command still waiting with `reason` and frees the connection.
  void Drop(const std::string& reason);
  std::string Error(std::string_view what) const;

  // Fails the commands of `p` still without a reply; Settle delivers `p` from the loop.
  static void Fail(Pending* p, const std::string& why);
  static void Settle(Pending* p);
  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void OnConnect(const redisAsyncContext* ac, int status);
  static void OnDisconnect(const redisAsyncContext* ac, int status);
  static void OnTimer(uv_timer_t* timer);

  uv_loop_t* loop_;
  Options options_;
  PeerAddress address_;
  redisAsyncContext* ctx_ = nullptr;  // null: not connected; the next Command connects
  std::list<Pending*> pending_;       // batches in sending order; freed by their timers
  int connects_ = 0;
};

}  // namespace upcheck::fleet

#endif  // UPCHECK_FLEET_REDIS_CLIENT_H_
