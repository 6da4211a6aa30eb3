// Cross-thread post: the one thread-safe entry point.
#include <weft/weft.hpp>

#include "core/inbox.hpp"
#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using weft::testing::expect_clean_close;

TEST(Post, EightThreadsTimesHundredThousandDeliveredOnceInPerThreadOrder) {
  constexpr int kThreads = 8;
  constexpr int kPosts = 100'000;
  weft::Loop loop;
  std::vector<int> next_expected(kThreads, 0);
  int out_of_order = 0;
  std::thread::id loop_thread = std::this_thread::get_id();
  int off_thread = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t, keep = weft::Loop::KeepAlive(loop)]() mutable {
      for (int i = 0; i < kPosts; ++i) {
        loop.post([&, t, i] {
          if (std::this_thread::get_id() != loop_thread) ++off_thread;
          auto& expected = next_expected[static_cast<std::size_t>(t)];
          if (i != expected) ++out_of_order;
          expected = i + 1;
        });
      }
      keep.reset();
    });
  }
  loop.run();
  for (auto& th : threads) th.join();
  EXPECT_EQ(out_of_order, 0);
  EXPECT_EQ(off_thread, 0);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(next_expected[static_cast<std::size_t>(t)], kPosts);
  expect_clean_close(loop);
}

TEST(Post, PostsToADestroyedLoopAreDroppedSafely) {
  auto loop = std::make_unique<weft::Loop>();
  auto inbox_holder = weft::detail::LoopAccess::inbox_ptr(*loop);  // what a worker thread would still hold
  loop.reset();
  bool ran = false;
  inbox_holder->post([&] { ran = true; });
  EXPECT_FALSE(ran);
}
