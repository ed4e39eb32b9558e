#include "fleet/redis_client.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "fleet/redis_uv_events.h"

namespace upcheck::fleet {

// A batch from Pipeline() to its callback. kWaiting: hiredis holds it as every command's
// privdata and the timer is its deadline. kSettled: every reply or error is in, the timer
// (at 0) delivers them, hiredis may still call back with it and is ignored. kOrphaned: the
// client is gone.
struct RedisClient::Pending {
  enum class State : uint8_t { kWaiting, kSettled, kOrphaned };
  RedisClient* client = nullptr;
  BatchCallback done;  // empty for the AUTH sent after connect
  State state = State::kWaiting;
  size_t commands = 0;
  Replies replies;  // in order; complete once settled
  uv_timer_t timer{};
};

namespace {

RedisReply Convert(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_INTEGER:
      out.kind = RedisReply::Kind::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_STRING:
      out.kind = RedisReply::Kind::kString;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.kind = RedisReply::Kind::kStatus;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = RedisReply::Kind::kArray;
      for (size_t i = 0; i < r.elements; ++i) out.elements.push_back(Convert(*r.element[i]));
      break;
    default:
      break;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<RedisClient>> RedisClient::Create(uv_loop_t* loop, Options options) {
  using R = Result<std::unique_ptr<RedisClient>>;
  Result<PeerAddress> address = ParsePeerAddress(options.address);
  if (!address.ok()) return R::Error(address.error());
  if (options.timeout_ms < 1) return R::Error("redis timeout must be >= 1 ms");
  return std::unique_ptr<RedisClient>(new RedisClient(loop, std::move(options), *address));
}

RedisClient::RedisClient(uv_loop_t* loop, Options options, PeerAddress address)
    : loop_(loop), options_(std::move(options)), address_(std::move(address)) {}

RedisClient::~RedisClient() {
  for (Pending* p : pending_) p->state = Pending::State::kOrphaned;
  if (ctx_ != nullptr) {
    redisAsyncContext* ac = std::exchange(ctx_, nullptr);
    ac->data = nullptr;
    redisAsyncFree(ac);  // calls OnReply(nullptr) for each orphan: ignored
  }
  for (Pending* p : pending_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&p->timer),
             [](uv_handle_t* h) { delete static_cast<Pending*>(h->data); });
  }
}

bool RedisClient::connected() const {
  return ctx_ != nullptr && (ctx_->c.flags & REDIS_CONNECTED) != 0;
}

std::string RedisClient::Error(std::string_view what) const {
  return fmt::format("redis {}: {}", options_.address, what);
}

void RedisClient::Command(const std::vector<std::string>& args, Callback done) {
  Pipeline({args}, [done = std::move(done)](Replies r) { done(std::move(r.front())); });
}

void RedisClient::Pipeline(const std::vector<std::vector<std::string>>& commands,
                           BatchCallback done) {
  Pending* p = NewPending(std::move(done), commands.size());
  if (ctx_ == nullptr) {
    if (Status st = Connect(); !st.ok()) {
      Fail(p, st.message());
      return;
    }
  }
  Send(p, commands);
}

RedisClient::Pending* RedisClient::NewPending(BatchCallback done, size_t commands) {
  auto* p = new Pending;
  p->client = this;
  p->done = std::move(done);
  p->commands = commands;
  p->replies.reserve(commands);
  uv_timer_init(loop_, &p->timer);
  p->timer.data = p;
  pending_.push_back(p);
  return p;
}

void RedisClient::Send(Pending* p, const std::vector<std::vector<std::string>>& commands) {
  if (commands.empty()) return Settle(p);
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  HoldWrites(ctx_);
  for (const std::vector<std::string>& args : commands) {
    argv.clear();
    lens.clear();
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      lens.push_back(arg.size());
    }
    if (redisAsyncCommandArgv(ctx_, &OnReply, p, static_cast<int>(argv.size()), argv.data(),
                              lens.data()) != REDIS_OK) {
      // Commands already queued hold `p`: dropping the connection lets hiredis forget them.
      Drop(Error(ctx_->errstr[0] != '\0' ? ctx_->errstr : "cannot send"));
      return;
    }
  }
  uv_timer_start(&p->timer, OnTimer, static_cast<uint64_t>(options_.timeout_ms), 0);
  FlushWrites(ctx_);
}

Status RedisClient::Connect() {
  redisAsyncContext* ac =
      address_.family == PeerAddress::Family::kUnix
          ? redisAsyncConnectUnix(address_.host.c_str())
          : redisAsyncConnect(address_.host.c_str(), static_cast<int>(address_.port));
  if (ac == nullptr) return Status::Error(Error("cannot allocate a connection"));
  if (ac->err != 0) {
    const std::string why = ac->errstr;
    redisAsyncFree(ac);
    return Status::Error(Error(why));
  }
  if (!AttachToLoop(ac, loop_)) {
    redisAsyncFree(ac);
    return Status::Error(Error("cannot watch the connection on the loop"));
  }
  ac->data = this;
  redisAsyncSetConnectCallback(ac, &OnConnect);
  redisAsyncSetDisconnectCallback(ac, &OnDisconnect);
  ctx_ = ac;
  ++connects_;
  if (options_.password) Send(NewPending(nullptr, 1), {{"AUTH", *options_.password}});
  return Status::Ok();
}

void RedisClient::Drop(const std::string& reason) {
  for (Pending* p : pending_) Fail(p, reason);
  if (ctx_ == nullptr) return;
  redisAsyncContext* ac = std::exchange(ctx_, nullptr);
  ac->data = nullptr;
  // Inside a hiredis callback this only marks it: hiredis frees it when the callback returns.
  redisAsyncFree(ac);
}

void RedisClient::Fail(Pending* p, const std::string& why) {
  if (p->state != Pending::State::kWaiting) return;
  while (p->replies.size() < p->commands) p->replies.emplace_back(Status::Error(why));
  Settle(p);
}

void RedisClient::Settle(Pending* p) {
  if (p->state != Pending::State::kWaiting) return;
  p->state = Pending::State::kSettled;
  // Delivered from the loop, never from inside hiredis or Pipeline().
  uv_timer_start(&p->timer, OnTimer, 0, 0);
}

void RedisClient::OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* p = static_cast<Pending*>(privdata);
  if (p->state != Pending::State::kWaiting) return;
  RedisClient* client = p->client;
  const auto* r = static_cast<const redisReply*>(reply);
  if (r == nullptr) {
    Fail(p, client->Error(ac->errstr[0] != '\0' ? ac->errstr : "connection closed"));
    return;
  }
  if (r->type != REDIS_REPLY_ERROR) {
    p->replies.emplace_back(Convert(*r));
  } else if (!p->done) {
    // A failed AUTH fails what was queued behind it with the reason, not with NOAUTH.
    client->Drop(client->Error("AUTH failed: " + std::string(r->str, r->len)));
    return;
  } else {
    p->replies.emplace_back(Status::Error(client->Error(std::string(r->str, r->len))));
  }
  if (p->replies.size() == p->commands) Settle(p);
}

void RedisClient::OnConnect(const redisAsyncContext* ac, int status) {
  auto* client = static_cast<RedisClient*>(ac->data);
  // hiredis frees a context whose connect failed; its commands get OnReply(nullptr).
  if (status != REDIS_OK && client != nullptr && client->ctx_ == ac) client->ctx_ = nullptr;
}

void RedisClient::OnDisconnect(const redisAsyncContext* ac, int /*status*/) {
  auto* client = static_cast<RedisClient*>(ac->data);
  if (client != nullptr && client->ctx_ == ac) client->ctx_ = nullptr;
}

void RedisClient::OnTimer(uv_timer_t* timer) {
  auto* p = static_cast<Pending*>(timer->data);
  RedisClient* client = p->client;
  if (p->state == Pending::State::kWaiting) {
    client->Drop(
        client->Error(fmt::format("no reply within {} ms (timeout)", client->options_.timeout_ms)));
  }
  client->pending_.remove(p);
  BatchCallback done = std::move(p->done);
  Replies replies = std::move(p->replies);
  uv_close(reinterpret_cast<uv_handle_t*>(&p->timer),
           [](uv_handle_t* h) { delete static_cast<Pending*>(h->data); });
  if (done) done(std::move(replies));
}

}  // namespace upcheck::fleet
