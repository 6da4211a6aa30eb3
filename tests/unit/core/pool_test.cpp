// Worker pools: completion thread, results, cancellation, bounds, class isolation, lifetime.
#include <weft/weft.hpp>

#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <functional>
#include <future>
#include <latch>
#include <thread>

using namespace std::chrono_literals;
using weft::testing::expect_clean_close;

namespace {

std::shared_ptr<weft::Runtime> runtime(unsigned io_threads, std::size_t max_queued = 65536) {
  return std::make_shared<weft::Runtime>(
      weft::PoolOptions{.io_threads = io_threads, .max_queued = max_queued});
}

// Blocks a pool thread until released.
struct Gate {
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
  std::atomic<int> entered{0};
  auto job() {
    return [this] {
      ++entered;
      opened.wait();
    };
  }
  void wait_entered(int n) {
    while (entered.load() < n) std::this_thread::yield();
  }
};

}  // namespace

TEST(Pool, WorkRunsOnAPoolThreadAndDoneOnTheLoopThread) {
  weft::Loop loop;
  const auto loop_thread = std::this_thread::get_id();
  std::thread::id work_thread, done_thread;
  int value = 0;
  auto ec = weft::queue_work(
      loop, weft::WorkClass::fs,
      [&] {
        work_thread = std::this_thread::get_id();
        return 42;
      },
      [&](weft::Result<int>& r) {
        done_thread = std::this_thread::get_id();
        value = r.value();
      });
  ASSERT_FALSE(ec);
  EXPECT_EQ(value, 0);  // never inside queue_work
  loop.run();
  EXPECT_EQ(value, 42);
  EXPECT_NE(work_thread, loop_thread);
  EXPECT_EQ(done_thread, loop_thread);
  expect_clean_close(loop);
}

TEST(Pool, AnExceptionFromWorkReachesDone) {
  weft::Loop loop;
  std::string message;
  std::error_code ec;
  (void)weft::queue_work(
      loop, weft::WorkClass::slow, []() -> int { throw std::runtime_error("disk on fire"); },
      [&](weft::Result<int>& r) {
        ec = r.error();
        try {
          r.value();
        } catch (const std::runtime_error& e) {
          message = e.what();
        }
      });
  loop.run();
  EXPECT_EQ(ec, weft::errc::work_threw);
  EXPECT_EQ(message, "disk on fire");
  expect_clean_close(loop);
}

TEST(Pool, CancelRemovesAQueuedJobAndDoneSeesOperationCanceled) {
  weft::Loop loop({.runtime = runtime(1)});
  Gate gate;
  bool second_ran = false;
  std::error_code second_result;
  (void)weft::queue_work(loop, weft::WorkClass::fs, gate.job(), [](auto&) {});
  gate.wait_entered(1);
  weft::WorkHandle handle;
  (void)weft::queue_work(
      loop, weft::WorkClass::fs, [&] { second_ran = true; },
      [&](weft::Result<void>& r) { second_result = r.error(); }, &handle);
  EXPECT_TRUE(handle.cancel());
  EXPECT_FALSE(second_result);  // delivered later, not inside cancel()
  gate.open.set_value();
  loop.run();
  EXPECT_FALSE(second_ran);
  EXPECT_EQ(second_result, std::errc::operation_canceled);
  EXPECT_EQ(loop.runtime().stats(weft::WorkClass::fs).canceled, 1u);
  expect_clean_close(loop);
}

TEST(Pool, CancelOfARunningJobFailsAndDoneGetsTheResult) {
  weft::Loop loop({.runtime = runtime(1)});
  Gate gate;
  weft::WorkHandle handle;
  std::error_code result = make_error_code(std::errc::io_error);
  (void)weft::queue_work(
      loop, weft::WorkClass::fs, gate.job(), [&](weft::Result<void>& r) { result = r.error(); },
      &handle);
  gate.wait_entered(1);
  EXPECT_FALSE(handle.cancel());
  gate.open.set_value();
  loop.run();
  EXPECT_FALSE(result);
  expect_clean_close(loop);
}

TEST(Pool, SubmittingPastTheQueueBoundFailsAtOnceWithQueueFull) {
  weft::Loop loop({.runtime = runtime(1, 2)});
  Gate gate;
  int done = 0;
  ASSERT_FALSE(weft::queue_work(loop, weft::WorkClass::fs, gate.job(), [&](auto&) { ++done; }));
  gate.wait_entered(1);
  ASSERT_FALSE(weft::queue_work(
      loop, weft::WorkClass::fs, [] {}, [&](auto&) { ++done; }));
  ASSERT_FALSE(weft::queue_work(
      loop, weft::WorkClass::fs, [] {}, [&](auto&) { ++done; }));
  bool third_work_ran = false;
  auto ec = weft::queue_work(
      loop, weft::WorkClass::fs, [&] { third_work_ran = true; }, [&](auto&) { ++done; });
  EXPECT_EQ(ec, weft::errc::queue_full);
  EXPECT_EQ(loop.runtime().stats(weft::WorkClass::fs).rejected, 1u);
  gate.open.set_value();
  loop.run();
  EXPECT_EQ(done, 3);
  EXPECT_FALSE(third_work_ran);
  expect_clean_close(loop);
}

TEST(Pool, ASlowJobOfOneSecondDoesNotDelayFsJobs) {
  weft::Loop loop({.runtime = runtime(4)});  // slow may hold at most 2 of 4 threads
  int slow_done = 0;
  for (int i = 0; i < 4; ++i) {
    (void)weft::queue_work(
        loop, weft::WorkClass::slow, [] { std::this_thread::sleep_for(1s); },
        [&](auto&) { ++slow_done; });
  }
  const auto submitted = std::chrono::steady_clock::now();
  std::vector<std::chrono::steady_clock::duration> fs_latency;
  for (int i = 0; i < 20; ++i) {
    (void)weft::queue_work(
        loop, weft::WorkClass::fs, [] {},
        [&](auto&) { fs_latency.push_back(std::chrono::steady_clock::now() - submitted); });
  }
  loop.run();
  EXPECT_EQ(slow_done, 4);
  ASSERT_EQ(fs_latency.size(), 20u);
  for (auto latency : fs_latency) EXPECT_LT(latency, 500ms);  // not behind the 1 s jobs
  const auto stats = loop.runtime().stats(weft::WorkClass::slow);
  EXPECT_EQ(stats.completed, 4u);
  EXPECT_GE(stats.queue_wait_ns, 2'000'000'000u - 100'000'000u);  // 2 waited ~1 s each
  expect_clean_close(loop);
}

TEST(Pool, CpuPoolIsSeparateFromTheIoPool) {
  weft::Loop loop({.runtime = runtime(1)});
  Gate gate;
  (void)weft::queue_work(loop, weft::WorkClass::fs, gate.job(), [](auto&) {});
  gate.wait_entered(1);
  bool cpu_done = false;
  (void)weft::queue_work(
      loop, weft::WorkClass::cpu, [] { return 7; },
      [&](weft::Result<int>& r) {
        cpu_done = r.value() == 7;
        gate.open.set_value();
      });
  loop.run();
  EXPECT_TRUE(cpu_done);  // ran although the only I/O thread was blocked
  expect_clean_close(loop);
}

// The nice value of the calling thread (Linux: per thread).
int thread_nice() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
}

// Each class's job reports its thread's nice value.
std::map<weft::WorkClass, int> pool_nice_values(weft::PoolOptions options) {
  weft::Loop loop({.runtime = std::make_shared<weft::Runtime>(options)});
  std::map<weft::WorkClass, int> seen;
  for (auto cls : {weft::WorkClass::fs, weft::WorkClass::slow, weft::WorkClass::cpu}) {
    EXPECT_FALSE(weft::queue_work(
        loop, cls, [] { return thread_nice(); },
        [&seen, cls](weft::Result<int>& r) { seen[cls] = r.value(); }));
  }
  loop.run();
  expect_clean_close(loop);
  return seen;
}

TEST(Pool, ThreadsRunBelowTheLoopByDefaultAndAsConfigured) {
  const int loop_nice = thread_nice();
  auto lowered = [&](int by) { return std::min(loop_nice + by, 19); };  // 19 is the floor
  auto by_default = pool_nice_values({});
  EXPECT_EQ(by_default[weft::WorkClass::fs], lowered(10));
  EXPECT_EQ(by_default[weft::WorkClass::slow], lowered(10));
  EXPECT_EQ(by_default[weft::WorkClass::cpu], lowered(10));
  auto configured = pool_nice_values({.io_nice = 0, .cpu_nice = 3});
  EXPECT_EQ(configured[weft::WorkClass::fs], loop_nice);
  EXPECT_EQ(configured[weft::WorkClass::slow], loop_nice);
  EXPECT_EQ(configured[weft::WorkClass::cpu], lowered(3));
  EXPECT_EQ(thread_nice(), loop_nice);  // the loop's own thread is left alone
}

// Each class's job reports its thread's scheduling policy (SCHED_OTHER, _BATCH, _IDLE).
std::map<weft::WorkClass, int> pool_policies(weft::PoolOptions options) {
  weft::Loop loop({.runtime = std::make_shared<weft::Runtime>(options)});
  std::map<weft::WorkClass, int> seen;
  for (auto cls : {weft::WorkClass::fs, weft::WorkClass::slow, weft::WorkClass::cpu}) {
    EXPECT_FALSE(weft::queue_work(
        loop, cls, [] { return ::sched_getscheduler(0); },
        [&seen, cls](weft::Result<int>& r) { seen[cls] = r.value(); }));
  }
  loop.run();
  expect_clean_close(loop);
  return seen;
}

// Both pools run under SCHED_OTHER by default; cpu_scheduling puts the cpu pool under
// SCHED_IDLE (a loop waking on its core preempts it at once) or SCHED_BATCH.
TEST(Pool, CpuPoolSchedulingPolicyByDefaultAndAsConfigured) {
  auto by_default = pool_policies({});
  EXPECT_EQ(by_default[weft::WorkClass::fs], SCHED_OTHER);
  EXPECT_EQ(by_default[weft::WorkClass::slow], SCHED_OTHER);
  EXPECT_EQ(by_default[weft::WorkClass::cpu], SCHED_OTHER);
  auto idle = pool_policies({.cpu_scheduling = weft::PoolScheduling::idle});
  EXPECT_EQ(idle[weft::WorkClass::cpu], SCHED_IDLE);
  EXPECT_EQ(idle[weft::WorkClass::fs], SCHED_OTHER);
  EXPECT_EQ(idle[weft::WorkClass::slow], SCHED_OTHER);
  auto batch = pool_policies({.cpu_scheduling = weft::PoolScheduling::batch});
  EXPECT_EQ(batch[weft::WorkClass::cpu], SCHED_BATCH);
  EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER);  // the loop's own thread is left alone
}

// Each completion submits the next job while the thread that ran the previous one is still
// handing it back: that thread takes the job without being woken, and none is lost.
TEST(Pool, JobsSubmittedFromCompletionsRunOneAfterAnother) {
  for (unsigned threads : {1u, 2u, 4u}) {
    weft::Loop loop({.runtime = runtime(threads)});
    constexpr int kJobs = 2000;
    int done = 0;
    std::function<void()> submit = [&] {
      auto ec = weft::queue_work(
          loop, weft::WorkClass::fs, [] {},
          [&](auto&) {
            if (++done < kJobs) submit();
          });
      ASSERT_FALSE(ec);
    };
    submit();
    loop.run();
    EXPECT_EQ(done, kJobs) << threads << " threads";
    expect_clean_close(loop);
  }
}

// A burst submitted from a completion, while threads are still handing results back: every
// job runs, on the pool, and its completion runs on the loop.
TEST(Pool, BurstsSubmittedFromCompletionsAllComplete) {
  weft::Loop loop({.runtime = runtime(4)});
  constexpr int kBursts = 200, kBurst = 16;
  const auto loop_thread = std::this_thread::get_id();
  std::atomic<int> ran{0};
  int done = 0, bursts = 0, off_loop = 0;
  std::function<void()> burst = [&] {
    ++bursts;
    for (int i = 0; i < kBurst; ++i) {
      auto ec = weft::queue_work(
          loop, weft::WorkClass::fs, [&] { ++ran; },
          [&](auto&) {
            if (std::this_thread::get_id() != loop_thread) ++off_loop;
            if (++done % kBurst == 0 && bursts < kBursts) burst();
          });
      ASSERT_FALSE(ec);
    }
  };
  burst();
  loop.run();
  EXPECT_EQ(done, kBursts * kBurst);
  EXPECT_EQ(ran.load(), kBursts * kBurst);
  EXPECT_EQ(off_loop, 0);
  expect_clean_close(loop);
}

TEST(Pool, DestroyingTheSubmitterWithJobsInFlightIsClean) {
  auto rt = runtime(1);
  Gate gate;
  std::atomic<int> done_calls{0};
  std::atomic<bool> queued_ran{false};
  {
    weft::Loop loop({.runtime = rt});
    (void)weft::queue_work(loop, weft::WorkClass::fs, gate.job(), [&](auto&) { ++done_calls; });
    gate.wait_entered(1);  // running
    (void)weft::queue_work(
        loop, weft::WorkClass::fs, [&] { queued_ran = true; }, [&](auto&) { ++done_calls; });
  }  // the loop dies with one job running and one queued
  gate.open.set_value();
  // The runtime outlives the loop: its destructor joins the thread after the job ends.
  rt.reset();
  EXPECT_EQ(done_calls.load(), 0);
  EXPECT_FALSE(queued_ran.load());
}

TEST(Pool, PoolSizeComesFromTheEnvironment) {
  ::setenv("WEFT_POOL_SIZE", "6", 1);
  weft::Runtime from_env;
  ::unsetenv("WEFT_POOL_SIZE");
  EXPECT_EQ(from_env.io_threads(), 6u);
  weft::Runtime defaults;
  EXPECT_EQ(defaults.io_threads(), 4u);
  EXPECT_EQ(defaults.options().slow_max_running, 2u);
}
