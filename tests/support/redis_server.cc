#include "redis_server.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <thread>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "nginx_process.h"
#include "slow_tool.h"

extern char** environ;

namespace upcheck::testing {
namespace {

std::string Binary() {
  const char* env = std::getenv("REDIS_SERVER");
  return env != nullptr && *env != '\0' ? env : "/usr/bin/redis-server";
}

// Waits for `pid` to exit until `deadline`; true once it is reaped.
bool Reaped(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

std::string ReplyText(const redisReply& reply) {
  switch (reply.type) {
    case REDIS_REPLY_INTEGER:
      return fmt::format("{}", reply.integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (size_t i = 0; i < reply.elements; ++i) {
        out += (i > 0 ? " " : "") + ReplyText(*reply.element[i]);
      }
      return out;
    }
    default:
      return std::string(reply.str, reply.len);
  }
}

}  // namespace

RedisServer::RedisServer(Options options) : options_(std::move(options)) {
  char dir[] = "/tmp/upcheck-redis-XXXXXX";
  if (mkdtemp(dir) != nullptr) dir_ = dir;
}

RedisServer::~RedisServer() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string RedisServer::address() const { return fmt::format("127.0.0.1:{}", port_); }

Status RedisServer::Start() {
  if (pid_ > 0) return Status::Error("redis-server already runs");
  if (dir_.empty()) return Status::Error("no temporary directory for redis-server");
  if (port_ == 0) port_ = FreeLoopbackPort();
  std::vector<std::string> args = {
      Binary(), "--port",    std::to_string(port_), "--bind", "127.0.0.1",
      "--save", "",          "--appendonly",        "no",     "--dir",
      dir_,     "--logfile", dir_ + "/redis.log"};
  if (options_.password) {
    args.push_back("--requirepass");
    args.push_back(*options_.password);
  }
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (int rc = posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ); rc != 0) {
    return Status::Error(
        fmt::format("cannot run {}: {}", argv[0], std::generic_category().message(rc)));
  }
  pid_ = pid;
  paused_ = false;
  return WaitForPing();
}

Status RedisServer::WaitForPing() {
  const auto deadline = std::chrono::steady_clock::now() + Slow(std::chrono::seconds(10));
  std::string last = "no answer";
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Error(fmt::format("redis-server exited at start (log: {}/redis.log)", dir_));
    }
    Result<std::string> pong = Run({"PING"});
    if (pong.ok() && *pong == "PONG") return Status::Ok();
    last = pong.ok() ? *pong : pong.error();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::Error(fmt::format("redis-server on port {} did not answer PING: {}", port_, last));
}

void RedisServer::Stop() {
  if (pid_ <= 0) return;
  if (paused_) kill(pid_, SIGCONT);
  kill(pid_, SIGTERM);
  if (!Reaped(pid_, std::chrono::steady_clock::now() + Slow(std::chrono::seconds(5)))) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
  paused_ = false;
}

Status RedisServer::Restart() {
  Stop();
  return Start();
}

void RedisServer::Pause() {
  if (pid_ > 0 && kill(pid_, SIGSTOP) == 0) paused_ = true;
}

void RedisServer::Resume() {
  if (pid_ > 0 && kill(pid_, SIGCONT) == 0) paused_ = false;
}

Status RedisServer::FlushAll() {
  Result<std::string> reply = Run({"FLUSHALL"});
  if (!reply.ok()) return Status::Error(reply.error());
  return Status::Ok();
}

Result<std::string> RedisServer::Run(const std::vector<std::string>& args) {
  const timeval timeout{2, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeout);
  if (c == nullptr) return Result<std::string>::Error("out of memory");
  if (c->err != 0) {
    std::string error = c->errstr;
    redisFree(c);
    return Result<std::string>::Error(error);
  }
  redisSetTimeout(c, timeout);
  auto command = [&](const std::vector<std::string>& words) -> Result<std::string> {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& w : words) {
      argv.push_back(w.data());
      lens.push_back(w.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (reply == nullptr) return Result<std::string>::Error(c->errstr);
    const bool error = reply->type == REDIS_REPLY_ERROR;
    std::string text = ReplyText(*reply);
    freeReplyObject(reply);
    if (error) return Result<std::string>::Error(text);
    return text;
  };
  Result<std::string> result = Result<std::string>::Error("");
  if (options_.password) result = command({"AUTH", *options_.password});
  if (!options_.password || result.ok()) result = command(args);
  redisFree(c);
  return result;
}

}  // namespace upcheck::testing
