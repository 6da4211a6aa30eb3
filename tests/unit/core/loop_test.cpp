#include <weft/weft.hpp>
#include <gtest/gtest.h>
TEST(Loop, EmptyRunReturns) {
  weft::Loop loop;
  EXPECT_FALSE(loop.run());
  EXPECT_FALSE(loop.close());
}
