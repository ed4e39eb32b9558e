// main() of test binaries whose children are this binary run again (self_exec.h).
#include <gtest/gtest.h>

#include "self_exec.h"

int main(int argc, char** argv) {
  upcheck::testing::RunChildRoleIfAsked(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
