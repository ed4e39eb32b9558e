// StatusServer on a real loopback socket: the routes of MakeStatusHandler byte for byte,
// the headers every answer carries, and the limits (431, 408, connection cap).
#include "status_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "net_test_util.h"
#include "upcheck/internal/status_details.h"
#include "upcheck/status_pages.h"

namespace upcheck {
namespace {

using testing::HttpExchange;
using testing::LoopThread;
using testing::Millis;
using testing::ParseAnswer;

class StatusServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(view_
                    .AddUpstream("foo.com", {{"127.0.0.1:12354"}, {"127.0.0.1:12355"}},
                                 {{"127.0.0.1:12356"}})
                    .ok());
    ASSERT_TRUE(view_.AddUpstream("bar.com", {{"127.0.0.1:12357"}}, {}).ok());
    view_.AddChecker("foo.com", 1);
    ASSERT_TRUE(view_.SetPeerDown("foo.com", false, 1, true).ok());
  }
  void TearDown() override {
    ASSERT_TRUE(loop_.Run([this] { server_.reset(); }));  // closes it
    EXPECT_EQ(loop_.Stop(), 0);
  }

  void Start(StatusServerOptions options = {}, StatusRenderer handler = nullptr) {
    int fd = testing::ListenLoopback(&port_);
    ASSERT_GE(fd, 0);
    if (!handler) {
      handler = MakeStatusHandler(&view_, nullptr, nullptr, [this] { ++renders_; });
    }
    bool ok = false;
    ASSERT_TRUE(loop_.Run([&] {
      auto started = StatusServer::Start(loop_.loop(), fd, std::move(handler), options);
      ok = started.ok();
      if (ok) server_ = std::move(*started);
    }));
    ASSERT_TRUE(ok);
  }

  testing::HttpAnswer Get(const std::string& request) {
    std::optional<std::string> raw = HttpExchange(port_, request);
    EXPECT_TRUE(raw.has_value());
    std::optional<testing::HttpAnswer> answer = ParseAnswer(raw.value_or(""));
    EXPECT_TRUE(answer.has_value()) << raw.value_or("");
    return answer.value_or(testing::HttpAnswer{});
  }

  Upstreams view_;
  LoopThread loop_;
  std::unique_ptr<StatusServer> server_;
  int port_ = 0;
  std::atomic<int> renders_{0};
};

TEST_F(StatusServerTest, StatusIsTheOriginalPageByteForByte) {
  Start();
  std::optional<std::string> raw = HttpExchange(port_, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(raw);
  const std::string page =
      "Upstream foo.com\n"
      "    Primary Peers\n"
      "        127.0.0.1:12354 UP\n"
      "        127.0.0.1:12355 DOWN\n"
      "    Backup Peers\n"
      "        127.0.0.1:12356 UP\n"
      "\n"
      "Upstream bar.com (NO checkers)\n"
      "    Primary Peers\n"
      "        127.0.0.1:12357 UP\n"
      "    Backup Peers\n";
  ASSERT_EQ(page, StatusPage(view_));  // the engine's page, as the original prints it
  EXPECT_EQ(*raw, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                      std::to_string(page.size()) + "\r\nConnection: close\r\nX-Worker-Pid: " +
                      std::to_string(getpid()) + "\r\n\r\n" + page);
  EXPECT_EQ(renders_.load(), 1);
}

TEST_F(StatusServerTest, MetricsAreTheOriginalLinesThenTheUpcheckFamilies) {
  Start();
  testing::HttpAnswer a = Get("GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.Header("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_EQ(a.body, *PrometheusStatusPage(view_) + UpcheckMetrics(view_, nullptr));
  EXPECT_EQ(a.body.find("# HELP nginx_upstream_status_info"), 0u);
  EXPECT_NE(a.body.find("upcheck_peer_up{upstream=\"foo.com\",peer=\"127.0.0.1:12355\","
                        "role=\"primary\"} 0\n"),
            std::string::npos);
  EXPECT_EQ(a.Header("Content-Length"), std::to_string(a.body.size()));
}

TEST_F(StatusServerTest, StatusJsonParses) {
  Start();
  testing::HttpAnswer a = Get("GET /status.json?pretty=1 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.Header("Content-Type"), "application/json");
  nlohmann::json doc = nlohmann::json::parse(a.body);
  EXPECT_EQ(doc["worker_pid"], getpid());
  EXPECT_EQ(doc["upstreams"][0]["name"], "foo.com");
  EXPECT_EQ(doc["upstreams"][0]["peers"][1]["up"], false);
  EXPECT_EQ(doc["upstreams"][0]["peers"][2]["role"], "backup");
}

TEST_F(StatusServerTest, UnknownPathIs404) {
  Start();
  testing::HttpAnswer a = Get("GET /nope HTTP/1.0\r\n\r\n");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.body, "not found\n");
  EXPECT_EQ(a.Header("X-Worker-Pid"), std::to_string(getpid()));
  EXPECT_EQ(a.Header("Connection"), "close");
}

TEST_F(StatusServerTest, HeadSendsTheHeadersOnly) {
  Start();
  std::optional<std::string> raw = HttpExchange(port_, "HEAD /status HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(raw);
  std::optional<testing::HttpAnswer> a = ParseAnswer(*raw);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->body, "");
  EXPECT_EQ(a->Header("Content-Length"), std::to_string(StatusPage(view_).size()));
}

TEST_F(StatusServerTest, OtherMethodsAre405AndGarbageIs400) {
  Start();
  testing::HttpAnswer post = Get("POST /status HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.Header("Allow"), "GET, HEAD");
  EXPECT_EQ(Get("hello\r\n\r\n").status, 400);
  EXPECT_EQ(renders_.load(), 0);
}

TEST_F(StatusServerTest, HugeHeadIs431) {
  Start({.max_request_bytes = 1024});
  std::string request = "GET /status HTTP/1.1\r\nX-Big: " + std::string(64 * 1024, 'a');
  int fd = testing::ConnectLoopback(port_);
  ASSERT_GE(fd, 0);
  // The server answers as soon as the limit is passed; the rest of our bytes may not fit.
  (void)testing::SendAll(fd, request, Millis(2000));
  std::optional<std::string> raw = testing::ReadToEof(fd, Millis(10000), true);
  ::close(fd);
  ASSERT_TRUE(raw);
  std::optional<testing::HttpAnswer> a = ParseAnswer(*raw);
  ASSERT_TRUE(a) << *raw;
  EXPECT_EQ(a->status, 431);
  EXPECT_EQ(renders_.load(), 0);
}

TEST_F(StatusServerTest, SlowClientGets408WhileOthersAreServed) {
  Start({.request_timeout_ms = 300});
  int slow = testing::ConnectLoopback(port_);
  ASSERT_GE(slow, 0);
  ASSERT_TRUE(testing::SendAll(slow, "GET /status HTTP/1.1\r\n"));  // never finishes
  // The worker is not blocked by it.
  EXPECT_EQ(Get("GET /status HTTP/1.1\r\n\r\n").status, 200);
  std::optional<std::string> raw = testing::ReadToEof(slow, Millis(5000));
  ::close(slow);
  ASSERT_TRUE(raw);
  std::optional<testing::HttpAnswer> a = ParseAnswer(*raw);
  ASSERT_TRUE(a) << *raw;
  EXPECT_EQ(a->status, 408);
}

TEST_F(StatusServerTest, ConcurrentClients) {
  Start();
  constexpr int kClients = 16;
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      const char* path = i % 3 == 0 ? "/status" : i % 3 == 1 ? "/metrics" : "/status.json";
      std::optional<std::string> raw =
          HttpExchange(port_, std::string("GET ") + path + " HTTP/1.1\r\n\r\n");
      std::optional<testing::HttpAnswer> a = ParseAnswer(raw.value_or(""));
      if (a && a->status == 200 && a->Header("Content-Length") == std::to_string(a->body.size()))
        ++good;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), kClients);
  EXPECT_EQ(renders_.load(), kClients);
}

TEST_F(StatusServerTest, ConnectionsOverTheCapAreClosedAtOnce) {
  Start({.max_connections = 2});
  int a = testing::ConnectLoopback(port_);
  int b = testing::ConnectLoopback(port_);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  size_t count = 0;
  // Both accepted before the third arrives: wait until the server holds them.
  for (auto deadline = std::chrono::steady_clock::now() + Millis(5000);
       count < 2 && std::chrono::steady_clock::now() < deadline;) {
    ASSERT_TRUE(loop_.Run([&] { count = server_->connection_count(); }));
  }
  ASSERT_EQ(count, 2u);
  int c = testing::ConnectLoopback(port_);
  ASSERT_GE(c, 0);
  EXPECT_TRUE(testing::ClosedByPeer(c));
  ::close(c);
  // The first two are still served.
  ASSERT_TRUE(testing::SendAll(a, "GET /status HTTP/1.1\r\n\r\n"));
  std::optional<std::string> raw = testing::ReadToEof(a);
  ASSERT_TRUE(raw);
  EXPECT_EQ(ParseAnswer(*raw).value_or(testing::HttpAnswer{}).status, 200);
  ::close(a);
  ::close(b);
}

TEST_F(StatusServerTest, CloseDropsOpenConnections) {
  Start();
  int idle = testing::ConnectLoopback(port_);
  ASSERT_GE(idle, 0);
  size_t count = 0;
  for (auto deadline = std::chrono::steady_clock::now() + Millis(5000);
       count < 1 && std::chrono::steady_clock::now() < deadline;) {
    ASSERT_TRUE(loop_.Run([&] { count = server_->connection_count(); }));
  }
  ASSERT_EQ(count, 1u);
  ASSERT_TRUE(loop_.Run([this] { server_->Close(); }));
  EXPECT_TRUE(testing::ClosedByPeer(idle));
  ::close(idle);
}

TEST_F(StatusServerTest, HandlerChoosesStatusAndType) {
  Start({}, [](std::string_view path, std::string* type, int* status, std::string* body) {
    *type = "application/x-test";
    *status = path == "/teapot" ? 404 : 200;
    body->assign(path);
  });
  testing::HttpAnswer a = Get("GET /teapot?q HTTP/1.1\r\n\r\n");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.Header("Content-Type"), "application/x-test");
  EXPECT_EQ(a.body, "/teapot");
  EXPECT_EQ(Get("GET http://h:1/x HTTP/1.1\r\n\r\n").body, "/x");
}

}  // namespace
}  // namespace upcheck
