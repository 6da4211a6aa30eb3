#include <weft/function.hpp>

#include <gtest/gtest.h>

#include <memory>

TEST(Function, HoldsMoveOnlyCallablesInlineAndOnTheHeap) {
  auto p = std::make_unique<int>(7);
  weft::Function<int()> small = [p = std::move(p)] { return *p; };
  EXPECT_EQ(small(), 7);
  struct Big {
    char pad[256] = {};
    int v = 9;
    int operator()() const { return v; }
  };
  weft::Function<int()> big = Big{};
  weft::Function<int()> moved = std::move(big);
  EXPECT_FALSE(static_cast<bool>(big));
  EXPECT_EQ(moved(), 9);
  moved = std::move(small);
  EXPECT_EQ(moved(), 7);
}

TEST(Function, DestroysTheCallableExactlyOnce) {
  auto counter = std::make_shared<int>(0);
  {
    weft::Function<void()> f = [counter] {};
    EXPECT_EQ(counter.use_count(), 2);
    weft::Function<void()> g = std::move(f);
    EXPECT_EQ(counter.use_count(), 2);
  }
  EXPECT_EQ(counter.use_count(), 1);
}
