// The context appended to a checker's lines about a peer.
#include "check/log_context.h"

#include <gtest/gtest.h>

namespace upcheck {
namespace {

TEST(LogContextTest, UpstreamInNginxConvention) {
  EXPECT_EQ(UpstreamLogContext("foo.com"), ", upstream: \"foo.com\"");
}

TEST(LogContextTest, TransitionAddsPrimariesUp) {
  EXPECT_EQ(TransitionLogContext("foo.com", 2, 3), ", upstream: \"foo.com\", primaries up: 2/3");
  EXPECT_EQ(TransitionLogContext("bar", 0, 0), ", upstream: \"bar\", primaries up: 0/0");
}

}  // namespace
}  // namespace upcheck
