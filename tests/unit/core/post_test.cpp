// Cross-thread post: the one thread-safe entry point.
#include <weft/weft.hpp>

#include "core/inbox.hpp"
#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <future>
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
  auto inbox_holder =
      weft::detail::LoopAccess::inbox_ptr(*loop);  // what a worker thread would still hold
  loop.reset();
  bool ran = false;
  inbox_holder->post([&] { ran = true; });
  EXPECT_FALSE(ran);
}

// The loop sleeps between posts that come slower than its spin: each post must wake it
// (a lost wake-up would leave the loop asleep until the guard timer).
TEST(Post, ASleepingLoopWakesForEveryLatePost) {
  weft::Loop loop;
  constexpr int kPosts = 200;
  int ran = 0;
  weft::Timer guard(loop);
  guard.start([&] { loop.stop(); }, std::chrono::seconds(20));
  guard.unref();
  std::thread poster([&, keep = weft::Loop::KeepAlive(loop)]() mutable {
    for (int i = 0; i < kPosts; ++i) {
      if (i % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200 + (i % 7) * 100));
      loop.post([&] { ++ran; });
    }
    keep.reset();
  });
  loop.run();
  poster.join();
  EXPECT_EQ(ran, kPosts);
  guard.close();
  loop.run();
  expect_clean_close(loop);
}

// A KeepAlive released by another thread while the loop is about to sleep must end run():
// the release and the loop's arming race on every round.
TEST(Post, AKeepAliveReleasedAsTheLoopArmsEndsRun) {
  weft::Loop loop;
  weft::Timer guard(loop);
  bool timed_out = false;
  guard.start(
      [&] {
        timed_out = true;
        loop.stop();
      },
      std::chrono::seconds(20));
  guard.unref();
  for (int round = 0; round < 2000 && !timed_out; ++round) {
    std::thread releaser([keep = weft::Loop::KeepAlive(loop), round]() mutable {
      for (int spin = 0; spin < round % 50; ++spin) std::this_thread::yield();
      keep.reset();
    });
    loop.run();
    releaser.join();
  }
  EXPECT_FALSE(timed_out);
  guard.close();
  loop.run();
  expect_clean_close(loop);
}

// Each posting thread has its own queue into the loop; once the thread has exited and its
// queue is drained, the loop forgets it, so short-lived posting threads do not accumulate.
TEST(Post, QueuesOfExitedThreadsAreForgotten) {
  weft::Loop loop;
  int ran = 0;
  for (int t = 0; t < 50; ++t) {
    std::thread([&] { loop.post([&] { ++ran; }); }).join();
  }
  loop.run(weft::RunMode::nowait);
  loop.post([] {});  // the loop thread's own queue: the one that stays
  loop.run(weft::RunMode::nowait);
  EXPECT_EQ(ran, 50);
  EXPECT_EQ(weft::detail::LoopAccess::inbox(loop).producer_queue_count(), 1u);
  expect_clean_close(loop);
}

// A post made from a thread_local's destructor, after the thread's own queues are gone,
// still arrives (through the inbox's shared fallback queue).
TEST(Post, APostFromAThreadExitDestructorArrives) {
  weft::Loop loop;
  bool from_exit = false;
  struct PostAtExit {
    weft::Loop* loop = nullptr;
    bool* flag = nullptr;
    ~PostAtExit() {
      if (loop) loop->post([f = flag] { *f = true; });
    }
  };
  std::thread([&] {
    thread_local PostAtExit at_exit;  // constructed before the thread's queues: destroyed after
    at_exit.loop = &loop;
    at_exit.flag = &from_exit;
    loop.post([] {});
  }).join();
  loop.run();  // joined first: both posts are queued, and run() delivers what is queued
  EXPECT_TRUE(from_exit);
  expect_clean_close(loop);
}

// The posted function may end the loop, and the loop's thread may destroy it, while the
// posting thread is still inside post() (between publishing the item and its wake-up). The
// poster must not touch the inbox after that: the loop's teardown waits for posts in
// flight. Several pairs share the two cores so that posters are preempted mid-post; the
// loops never sleep (an idle handle), so each takes its item the moment it is published.
// A use after free here shows under ASan/TSan (CI found it once in StaticFiles' stop()).
TEST(Post, APostThatEndsTheLoopDoesNotOutliveIt) {
  constexpr int kPairs = 4;
  constexpr int kRounds = 300;
  auto one_round = [] {
    std::promise<weft::Loop*> ready;
    weft::Loop::KeepAlive keep;
    std::thread owner([&] {
      weft::Loop loop;
      weft::Idle spin(loop);
      spin.start([] {});
      spin.unref();
      keep = weft::Loop::KeepAlive(loop);
      ready.set_value(&loop);
      loop.run();
      spin.close();
      loop.run();
    });
    ready.get_future().get()->post([&keep] { keep.reset(); });
    owner.join();
  };
  std::vector<std::thread> pairs;
  for (int p = 0; p < kPairs; ++p) {
    pairs.emplace_back([&] {
      for (int r = 0; r < kRounds; ++r) one_round();
    });
  }
  for (auto& t : pairs) t.join();
}
