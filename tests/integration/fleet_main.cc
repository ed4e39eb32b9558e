// main() of tests that start a WorkerFleet: a fleet worker is this binary run again.
#include <gtest/gtest.h>

#include "worker_fleet.h"

int main(int argc, char** argv) {
  upcheck::testing::RunFleetWorkerIfAsked(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
