// The installed library as a user gets it: `meson install` of this build into a temporary
// DESTDIR, the README's embedding example built from that tree alone through pkg-config,
// shared and static, and run against a loopback backend until its workers pick a peer.
// The C API's header is compiled as C99 there too (build_example.sh).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "loopback_http_server.h"
#include "subprocess.h"
#include "test_names.h"

namespace {

namespace fs = std::filesystem;
using upcheck::testing::RunProcess;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

class InstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/upcheck-install-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
    fs::create_directory(root_ / "dest");
    upcheck::testing::ProcessResult built = RunProcess(
        {"/bin/sh", Env("UPCHECK_BUILD_EXAMPLE"), Env("UPCHECK_MESON"), Env("UPCHECK_BUILD_ROOT"),
         Env("UPCHECK_INSTALL_SOURCES"), root_ / "dest", Env("UPCHECK_LIBDIR"), root_},
        std::chrono::minutes(4));
    ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  }
  void TearDown() override { fs::remove_all(root_); }

  // Runs one build of the example against `peer` and returns what it printed.
  std::string RunExample(const std::string& binary, const std::string& peer) {
    std::string shm = upcheck::testing::UniqueSegmentName("install");
    upcheck::testing::ProcessResult run = RunProcess({root_ / binary, shm, peer});
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    return run.out;
  }

  fs::path root_;
};

TEST_F(InstallTest, ExampleBuiltFromTheInstallPicksTheCheckedPeer) {
  upcheck::testing::LoopbackHttpServer backend(upcheck::testing::Family::kV4,
                                               upcheck::testing::StatusResponse(200));
  ASSERT_TRUE(backend.ok()) << backend.error();
  for (const char* binary : {"embed_example_shared", "embed_example_static"}) {
    SCOPED_TRACE(binary);
    std::string out = RunExample(binary, backend.address());
    // Two workers, one pick each, both the healthy peer.
    std::string picked = " picked " + backend.address() + "\n";
    size_t first = out.find(picked);
    ASSERT_NE(first, std::string::npos) << out;
    EXPECT_NE(out.find(picked, first + 1), std::string::npos) << out;
  }
  EXPECT_TRUE(backend.WaitForRequests(1, std::chrono::seconds(5)));

  upcheck::testing::ProcessResult c_check = RunProcess({root_ / "c_api_check"});
  EXPECT_EQ(c_check.exit_code, 0) << c_check.out << c_check.err;
  EXPECT_NE(c_check.out.find("not found"), std::string::npos) << c_check.out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The README shows the example in full: the file the test builds is the one a reader sees.
TEST(InstallDocs, ReadmeShowsTheExampleVerbatim) {
  std::string example = ReadFile(fs::path(Env("UPCHECK_INSTALL_SOURCES")) / "embed_example.cc");
  ASSERT_FALSE(example.empty());
  EXPECT_LT(std::count(example.begin(), example.end(), '\n'), 60);
  std::string readme = ReadFile(fs::path(Env("UPCHECK_SOURCE_ROOT")) / "README.md");
  EXPECT_NE(readme.find("```cpp\n" + example + "```\n"), std::string::npos)
      << "README.md's embedding section no longer shows tests/install/embed_example.cc";
}

}  // namespace
