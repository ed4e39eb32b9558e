// NginxProcess itself, on a configuration that needs nothing of the module: start, serve,
// reload (good and refused), quit, and nothing left behind.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "nginx_process.h"

namespace upcheck::testing {
namespace {

std::string Hello(int port, const std::string& text) {
  return "server {\n    listen 127.0.0.1:" + std::to_string(port) +
         ";\n    location = /hi { return 200 \"" + text + "\\n\"; }\n}";
}

TEST(NginxHarness, StartsReloadsAndQuits) {
  NginxProcess nginx(NginxProcess::Options{.workers = 2});
  const int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  Status started = nginx.Start(Hello(port, "one"));
  ASSERT_TRUE(started.ok()) << started.message();
  std::vector<pid_t> first = nginx.WorkerPids();
  EXPECT_EQ(first.size(), 2u);
  Result<HttpReply> one = Get(port, "/hi");
  ASSERT_TRUE(one.ok()) << one.error();
  EXPECT_EQ(one->status, 200);
  EXPECT_EQ(one->body, "one\n");

  Status reloaded = nginx.Reload(Hello(port, "two"));
  ASSERT_TRUE(reloaded.ok()) << reloaded.message();
  std::vector<pid_t> second = nginx.WorkerPids();
  EXPECT_EQ(second.size(), 2u);
  EXPECT_NE(second, first);
  EXPECT_EQ(Get(port, "/hi")->body, "two\n");

  Status refused = nginx.Reload("no_such_directive;\n" + Hello(port, "three"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(
      refused.message().find("unknown directive \"no_such_directive\" in " + nginx.conf_path() +
                             ":" + std::to_string(NginxProcess::kFirstBodyLine)),
      std::string::npos)
      << refused.message();
  EXPECT_EQ(nginx.WorkerPids(), second);
  EXPECT_EQ(Get(port, "/hi")->body, "two\n");

  pid_t master = nginx.master_pid();
  ASSERT_TRUE(nginx.Stop().ok());
  EXPECT_FALSE(nginx.MasterRunning());
  EXPECT_NE(kill(master, 0), 0);
  for (pid_t w : second) EXPECT_NE(kill(w, 0), 0) << w;
}

TEST(NginxHarness, TestReportsTheFileAndLine) {
  NginxProcess nginx;
  ProcessResult ok = nginx.Test(Hello(FreeLoopbackPort(), "x"));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  ProcessResult bad = nginx.Test("\nno_such_directive;");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("nginx: [emerg] unknown directive \"no_such_directive\" in " +
                         nginx.conf_path() + ":" +
                         std::to_string(NginxProcess::kFirstBodyLine + 1) + "\n"),
            std::string::npos)
      << bad.err;
}

TEST(NginxHarness, DestructorLeavesNoNginx) {
  pid_t master = -1;
  std::vector<pid_t> workers;
  {
    NginxProcess nginx;
    Status started = nginx.Start(Hello(FreeLoopbackPort(), "x"));
    ASSERT_TRUE(started.ok()) << started.message();
    master = nginx.master_pid();
    workers = nginx.WorkerPids();
  }
  EXPECT_NE(kill(master, 0), 0);
  for (pid_t w : workers) EXPECT_NE(kill(w, 0), 0) << w;
}

}  // namespace
}  // namespace upcheck::testing
