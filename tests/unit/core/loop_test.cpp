// Loop phases, ordering (as Node documents it), run modes, liveness and closing.
#include <weft/weft.hpp>

#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using weft::testing::expect_clean_close;
using weft::testing::Pipe;

TEST(Loop, EmptyLoopReturnsAtOnceAndClosesCleanly) {
  weft::Loop loop;
  EXPECT_FALSE(loop.run());
  expect_clean_close(loop);
}

TEST(Loop, ImmediateRunsBeforeZeroTimerInsideIoCallback) {
  weft::Loop loop;
  Pipe pipe;
  std::vector<std::string> order;
  weft::Timer timer(loop);
  weft::IoWatcher watcher(loop, pipe.fds[0]);
  watcher.start(weft::io_event::readable, [&](unsigned) {
    watcher.stop();
    timer.start([&] { order.push_back("timeout"); }, 0ms);
    loop.set_immediate([&] { order.push_back("immediate"); });
  });
  pipe.write_byte();
  loop.run();
  EXPECT_EQ(order, (std::vector<std::string>{"immediate", "timeout"}));
  timer.close();
  watcher.close();
  loop.run();
  expect_clean_close(loop);
}

TEST(Loop, MicrotasksRunBeforeTheNextCallback) {
  weft::Loop loop;
  std::vector<std::string> order;
  loop.set_immediate([&] {
    order.push_back("A");
    loop.queue_microtask([&] {
      order.push_back("A.micro");
      loop.queue_microtask([&] { order.push_back("A.micro.micro"); });
    });
  });
  loop.set_immediate([&] { order.push_back("B"); });
  loop.run();
  EXPECT_EQ(order, (std::vector<std::string>{"A", "A.micro", "A.micro.micro", "B"}));
  expect_clean_close(loop);
}

TEST(Loop, PhasesRunInNodeOrder) {
  weft::Loop loop;
  std::vector<std::string> order;
  weft::Timer timer(loop);
  weft::Idle idle(loop);
  weft::Prepare prepare(loop);
  weft::Check check(loop);
  timer.start([&] { order.push_back("timers"); }, 0ms);
  loop.defer([&] { order.push_back("pending"); });
  idle.start([&] {
    order.push_back("idle");
    idle.stop();
  });
  prepare.start([&] {
    order.push_back("prepare");
    prepare.stop();
  });
  check.start([&] {
    order.push_back("check");
    check.stop();
  });
  loop.set_immediate([&] { order.push_back("immediate"); });
  timer.close([&] { order.push_back("close"); });  // closed at once: its callback never runs
  loop.run(weft::RunMode::once);
  EXPECT_EQ(order, (std::vector<std::string>{"pending", "idle", "prepare", "immediate", "check",
                                             "close"}));
  loop.run();
  idle.close();
  prepare.close();
  check.close();
  loop.run();
  expect_clean_close(loop);
}

TEST(Loop, ImmediatesQueuedByImmediatesRunNextIteration) {
  weft::Loop loop;
  std::vector<std::uint64_t> iterations;
  loop.set_immediate([&] {
    iterations.push_back(loop.iteration_count());
    loop.set_immediate([&] { iterations.push_back(loop.iteration_count()); });
  });
  loop.run();
  ASSERT_EQ(iterations.size(), 2u);
  EXPECT_EQ(iterations[1], iterations[0] + 1);
  expect_clean_close(loop);
}

TEST(Loop, DeferredCallbackRunsInTheNextPendingPhaseNotInline) {
  weft::Loop loop;
  bool ran = false;
  loop.defer([&] { ran = true; });
  EXPECT_FALSE(ran);
  loop.run();
  EXPECT_TRUE(ran);
  expect_clean_close(loop);
}

TEST(Loop, ExitsWhenOnlyUnreferencedHandlesRemain) {
  weft::Loop loop;
  weft::Timer forever(loop);
  forever.start([] {}, 1h, 1h);
  forever.unref();
  weft::Timer short_timer(loop);
  int fired = 0;
  short_timer.start([&] { ++fired; }, 1ms);
  EXPECT_FALSE(loop.run());  // returns although `forever` is still active
  EXPECT_EQ(fired, 1);
  EXPECT_TRUE(forever.is_active());
  forever.ref();
  EXPECT_TRUE(loop.alive());
  forever.close();
  short_timer.close();
  loop.run();
  expect_clean_close(loop);
}

TEST(Loop, NowaitNeverBlocksAndReportsMoreWork) {
  weft::Loop loop;
  weft::Timer timer(loop);
  timer.start([] {}, 1h);
  auto before = std::chrono::steady_clock::now();
  EXPECT_TRUE(loop.run(weft::RunMode::nowait));
  EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);
  EXPECT_TRUE(timer.is_active());
  timer.close();
  EXPECT_FALSE(loop.run(weft::RunMode::nowait));  // the close phase ran; nothing left
  expect_clean_close(loop);
}

TEST(Loop, OnceWaitsForIoAndRunsOneIteration) {
  weft::Loop loop;
  Pipe pipe;
  int reads = 0;
  weft::IoWatcher watcher(loop, pipe.fds[0]);
  watcher.start(weft::io_event::readable, [&](unsigned) {
    char c;
    while (::read(pipe.fds[0], &c, 1) == 1) ++reads;
  });
  std::thread writer([&] {
    std::this_thread::sleep_for(20ms);
    pipe.write_byte();
  });
  EXPECT_TRUE(loop.run(weft::RunMode::once));  // blocked until the byte came
  writer.join();
  EXPECT_EQ(reads, 1);
  watcher.close();
  loop.run();
  expect_clean_close(loop);
}

TEST(Loop, StopFromAnotherThreadEndsRun) {
  weft::Loop loop;
  weft::Timer timer(loop);
  timer.start([] {}, 1h);
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    loop.stop();
  });
  EXPECT_TRUE(loop.run());  // stopped, with the timer still alive
  stopper.join();
  timer.close();
  loop.run();
  expect_clean_close(loop);
}

TEST(Loop, CloseWithOpenHandlesIsAnErrorTheCallerSees) {
  weft::Loop loop;
  weft::Timer timer(loop);
  std::error_code ec = loop.close();
  EXPECT_EQ(ec, weft::errc::loop_busy);
  EXPECT_NE(loop.describe_open_handles().find("timer"), std::string::npos);
  timer.close();
  EXPECT_EQ(loop.close(), weft::errc::loop_busy);  // closing, not yet closed
  loop.run();
  expect_clean_close(loop);
}

TEST(Loop, DestroyingAHandleBeforeItsClosePhaseDropsTheCallback) {
  weft::Loop loop;
  bool called = false;
  {
    weft::Timer timer(loop);
    timer.close([&] { called = true; });
  }
  loop.run();
  EXPECT_FALSE(called);
  expect_clean_close(loop);
}

TEST(Loop, CloseCallbackMayDestroyOtherClosingHandles) {
  weft::Loop loop;
  auto a = std::make_unique<weft::Timer>(loop);
  auto b = std::make_unique<weft::Timer>(loop);
  int closed = 0;
  a->close([&] {
    ++closed;
    b.reset();
  });
  b->close([&] { ++closed; });
  loop.run();
  EXPECT_EQ(closed, 1);
  a.reset();
  expect_clean_close(loop);
}

TEST(Loop, UncaughtExceptionGoesToTheHandlerAndTheLoopContinues) {
  weft::Loop loop;
  std::vector<std::string> seen;
  loop.set_uncaught_exception_handler([&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      seen.push_back(ex.what());
    }
  });
  loop.set_immediate([] { throw std::runtime_error("boom"); });
  loop.set_immediate([&] { seen.push_back("next"); });
  loop.run();
  EXPECT_EQ(seen, (std::vector<std::string>{"boom", "next"}));
  expect_clean_close(loop);
}

TEST(Loop, UncaughtExceptionWithoutHandlerTerminates) {
  EXPECT_DEATH(
      {
        weft::Loop loop;
        loop.set_immediate([] { throw std::runtime_error("nobody catches this"); });
        loop.run();
      },
      "nobody catches this");
}

TEST(Loop, KeepAliveHoldsTheLoopUntilReleasedOnAnotherThread) {
  weft::Loop loop;
  weft::Loop::KeepAlive keep(loop);
  bool posted = false;
  std::thread t([&, keep = std::move(keep)]() mutable {
    std::this_thread::sleep_for(10ms);
    loop.post([&] { posted = true; });
    keep.reset();
  });
  loop.run();
  t.join();
  EXPECT_TRUE(posted);
  expect_clean_close(loop);
}

TEST(Loop, CurrentIsSetOnlyInsideRun) {
  weft::Loop loop;
  EXPECT_EQ(weft::Loop::current(), nullptr);
  weft::Loop* seen = nullptr;
  loop.set_immediate([&] { seen = weft::Loop::current(); });
  loop.run();
  EXPECT_EQ(seen, &loop);
  EXPECT_EQ(weft::Loop::current(), nullptr);
  expect_clean_close(loop);
}

#ifndef NDEBUG
TEST(LoopDeathTest, CrossThreadCallAbortsInDebugBuilds) {
  EXPECT_DEATH(
      {
        weft::Loop loop;
        std::thread t([&] { loop.set_immediate([] {}); });
        t.join();
      },
      "another thread");
}
#endif

TEST(Loop, HandleDestroyedAfterTheLoopIsSafe) {
  auto loop = std::make_unique<weft::Loop>();
  auto timer = std::make_unique<weft::Timer>(*loop);
  timer->start([] {}, 1h);
  loop.reset();
  timer.reset();  // detached by ~Loop: must not touch the dead loop (ASan checks)
  SUCCEED();
}
