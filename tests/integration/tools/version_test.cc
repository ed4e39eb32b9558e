// --version on every binary: "NAME VERSION" on stdout, exit 0, so that packagers and
// operators can tell which build runs. The version is the project's (UPCHECK_VERSION).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>

#include "tool_fixture.h"

namespace upcheck {
namespace {

TEST(VersionTest, EveryBinaryPrintsItsNameAndTheVersion) {
  const char* version = std::getenv("UPCHECK_VERSION");
  ASSERT_NE(version, nullptr) << "set UPCHECK_VERSION to the project version";
  const std::pair<const char*, const char*> binaries[] = {{"UPCHECKD", "upcheckd"},
                                                          {"UPCHECK_SHMCTL", "upcheck-shmctl"},
                                                          {"UPCHECK_STATUS", "upcheck-status"},
                                                          {"UPCHECK_PROBE", "upcheck-probe"}};
  for (const auto& [env_var, name] : binaries) {
    const testing::ProcessResult r = testing::RunTool(env_var, {"--version"});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_EQ(r.out, std::string(name) + " " + version + "\n") << name;
    EXPECT_EQ(r.err, "") << name;
  }
}

}  // namespace
}  // namespace upcheck
