// Coroutines: Task, spawn, and the core awaitables.
#include <weft/weft.hpp>

#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

using namespace std::chrono_literals;
using weft::testing::expect_clean_close;
using weft::testing::ManualLoop;

namespace {

weft::Task<int> add_later(int a, int b) {
  co_await weft::sleep(10ms);
  co_return a + b;
}

weft::Task<int> deep(int n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await deep(n - 1);
}

weft::Task<void> fail_after_sleep() {
  co_await weft::sleep(1ms);
  throw std::runtime_error("task failed");
}

}  // namespace

TEST(Task, IsLazyUntilAwaitedOrSpawned) {
  weft::Loop loop;
  bool started = false;
  auto make = [&]() -> weft::Task<void> {
    started = true;
    co_return;
  };
  {
    auto task = make();
    EXPECT_FALSE(started);
  }  // destroyed without running
  EXPECT_FALSE(started);
  weft::spawn(loop, make());
  EXPECT_FALSE(started);  // spawn starts it as a microtask, not inline
  loop.run();
  EXPECT_TRUE(started);
  expect_clean_close(loop);
}

TEST(Task, ReturnsValuesThroughNestedAwaits) {
  ManualLoop m;
  EXPECT_EQ(weft::run_until_complete(m.loop, add_later(2, 3)), 5);
  expect_clean_close(m.loop);
}

// Symmetric transfer is a tail call: clang guarantees it at every optimization level,
// GCC only when optimizing (and TSan's instrumentation defeats it), so those builds use
// a shallower chain.
#if defined(__SANITIZE_THREAD__)
constexpr int kDeepChain = 1'000;
#elif defined(__clang__) || defined(__OPTIMIZE__)
constexpr int kDeepChain = 1'000'000;
#else
constexpr int kDeepChain = 1'000;
#endif

TEST(Task, SymmetricTransferKeepsDeepChainsOffTheStack) {
  weft::Loop loop;
  EXPECT_EQ(weft::run_until_complete(loop, deep(kDeepChain)), kDeepChain);
  expect_clean_close(loop);
}

TEST(Task, ExceptionPropagatesToTheAwaiter) {
  ManualLoop m;
  EXPECT_THROW(weft::run_until_complete(m.loop, fail_after_sleep()), std::runtime_error);
  expect_clean_close(m.loop);
}

TEST(Task, UnhandledExceptionInSpawnedTaskIsReported) {
  ManualLoop m;
  std::string reported;
  m.loop.set_uncaught_exception_handler([&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      reported = ex.what();
    }
  });
  weft::spawn(m.loop, fail_after_sleep());
  m.loop.run();
  EXPECT_EQ(reported, "task failed");
  expect_clean_close(m.loop);
}

TEST(Task, SleepUsesTheLoopClock) {
  ManualLoop m;
  const auto start = m.clock.now();
  weft::run_until_complete(m.loop, []() -> weft::Task<void> { co_await weft::sleep(3h); }());
  EXPECT_EQ(m.clock.now() - start, 3h);
  expect_clean_close(m.loop);
}

TEST(Task, BlockingRunsOnThePoolAndResumesOnTheLoop) {
  weft::Loop loop;
  const auto loop_thread = std::this_thread::get_id();
  auto task = [&]() -> weft::Task<int> {
    std::thread::id worker;
    int v = co_await weft::blocking([&] {
      worker = std::this_thread::get_id();
      return 21;
    });
    EXPECT_NE(worker, loop_thread);
    EXPECT_EQ(std::this_thread::get_id(), loop_thread);
    co_return v * 2;
  };
  EXPECT_EQ(weft::run_until_complete(loop, task()), 42);
  expect_clean_close(loop);
}

TEST(Task, BlockingRethrowsTheWorkException) {
  weft::Loop loop;
  auto task = []() -> weft::Task<void> {
    co_await weft::blocking([]() -> int { throw std::invalid_argument("bad input"); });
  };
  EXPECT_THROW(weft::run_until_complete(loop, task()), std::invalid_argument);
  expect_clean_close(loop);
}

TEST(Task, BlockingThrowsQueueFullWhenThePoolRefuses) {
  auto rt = std::make_shared<weft::Runtime>(weft::PoolOptions{.io_threads = 1, .max_queued = 0});
  weft::Loop loop({.runtime = rt});
  auto task = []() -> weft::Task<void> { co_await weft::blocking([] {}); };
  try {
    weft::run_until_complete(loop, task());
    ADD_FAILURE() << "expected queue_full";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), weft::errc::queue_full);
  }
  expect_clean_close(loop);
}

TEST(Task, OffloadRunsOnTheCpuPool) {
  weft::Loop loop;
  auto task = []() -> weft::Task<long> {
    co_return co_await weft::offload([] {
      long sum = 0;
      for (long i = 1; i <= 1000; ++i) sum += i;
      return sum;
    });
  };
  EXPECT_EQ(weft::run_until_complete(loop, task()), 500500);
  EXPECT_EQ(loop.runtime().stats(weft::WorkClass::cpu).completed, 1u);
  expect_clean_close(loop);
}

TEST(Task, YieldLetsOtherReadyCallbacksRunFirst) {
  weft::Loop loop;
  std::vector<std::string> order;
  weft::spawn(loop, [&]() -> weft::Task<void> {
    order.push_back("task:before");
    loop.set_immediate([&] { order.push_back("immediate"); });
    co_await weft::yield();
    order.push_back("task:after");
  });
  loop.run();
  EXPECT_EQ(order, (std::vector<std::string>{"task:before", "immediate", "task:after"}));
  expect_clean_close(loop);
}

TEST(Task, DestroyingTheLoopDestroysSuspendedTasksAndCancelsTheirOperations) {
  auto rt = std::make_shared<weft::Runtime>(weft::PoolOptions{.io_threads = 1});
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<int> started{0};
  std::atomic<bool> queued_ran{false};
  bool resumed = false;
  {
    weft::Loop loop({.runtime = rt});
    weft::spawn(loop, [&]() -> weft::Task<void> {  // occupies the only pool thread
      co_await weft::blocking(
          [&] {
            ++started;
            released.wait();
          },
          weft::WorkClass::fs);
      resumed = true;
    });
    weft::spawn(loop, [&]() -> weft::Task<void> {  // stays queued
      co_await weft::blocking([&] { queued_ran = true; }, weft::WorkClass::fs);
      resumed = true;
    });
    weft::spawn(loop, [&]() -> weft::Task<void> {  // a sleeping task
      co_await weft::sleep(1h);
      resumed = true;
    });
    while (started.load() == 0) loop.run(weft::RunMode::nowait);
  }
  release.set_value();
  rt.reset();  // joins after the running job: its completion is dropped
  EXPECT_FALSE(resumed);
  EXPECT_FALSE(queued_ran.load());
}

TEST(Task, RunUntilCompleteReportsATaskThatCanNeverFinish) {
  weft::Loop loop;
  weft::Timer never(loop);  // inactive: keeps nothing alive
  auto stuck = [&]() -> weft::Task<void> { co_await weft::sleep(1h); };
  never.unref();
  // A task waiting only on an unref'd timer cannot keep the loop alive.
  auto waits_forever = []() -> weft::Task<void> { co_await std::suspend_always{}; };
  EXPECT_THROW(weft::run_until_complete(loop, waits_forever()), std::logic_error);
  (void)stuck;
  never.close();
  loop.run();
}
