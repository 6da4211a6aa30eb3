// Timers, all on the manual clock: no test sleeps.
#include <weft/weft.hpp>

#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

using namespace std::chrono_literals;
using weft::testing::expect_clean_close;
using weft::testing::ManualLoop;

TEST(Timer, OneShotFiresAtItsDeadlineOnTheManualClock) {
  ManualLoop m;
  weft::Timer timer(m.loop);
  weft::Duration fired_at{};
  timer.start([&] { fired_at = m.elapsed(); }, 5s);
  auto wall = std::chrono::steady_clock::now();
  m.loop.run();
  EXPECT_EQ(fired_at, 5s);
  EXPECT_LT(std::chrono::steady_clock::now() - wall, 1s);  // time jumped; nobody slept
  EXPECT_FALSE(timer.is_active());
  timer.close();
  m.loop.run();
  expect_clean_close(m.loop);
}

TEST(Timer, EqualDeadlinesFireInStartOrder) {
  ManualLoop m;
  std::vector<std::unique_ptr<weft::Timer>> timers;
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) {
    timers.push_back(std::make_unique<weft::Timer>(m.loop));
    timers.back()->start([&order, i] { order.push_back(i); }, 10ms);
  }
  m.loop.run();
  std::vector<int> expected(100);
  for (int i = 0; i < 100; ++i) expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(order, expected);
  timers.clear();
  expect_clean_close(m.loop);
}

TEST(Timer, EarlierDeadlinesFireFirst) {
  ManualLoop m;
  std::vector<int> order;
  weft::Timer a(m.loop), b(m.loop), c(m.loop);
  a.start([&] { order.push_back(30); }, 30ms);
  b.start([&] { order.push_back(10); }, 10ms);
  c.start([&] { order.push_back(20); }, 20ms);
  m.loop.run();
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
  a.close(), b.close(), c.close();
  m.loop.run();
  expect_clean_close(m.loop);
}

TEST(Timer, RepeatingTimerFiresEveryPeriodUntilStopped) {
  ManualLoop m;
  weft::Timer timer(m.loop);
  std::vector<weft::Duration> at;
  timer.start(
      [&] {
        at.push_back(m.elapsed());
        if (at.size() == 3) timer.stop();
      },
      10ms, 25ms);
  m.loop.run();
  EXPECT_EQ(at, (std::vector<weft::Duration>{10ms, 35ms, 60ms}));
  timer.close();
  m.loop.run();
  expect_clean_close(m.loop);
}

TEST(Timer, StopCancelsAndDestructionCancels) {
  ManualLoop m;
  int fired = 0;
  weft::Timer stopped(m.loop);
  stopped.start([&] { ++fired; }, 1s);
  stopped.stop();
  {
    weft::Timer destroyed(m.loop);
    destroyed.start([&] { ++fired; }, 1s);
  }
  EXPECT_FALSE(m.loop.run());
  EXPECT_EQ(fired, 0);
  EXPECT_EQ(m.elapsed(), 0s);  // nothing was waiting, so time did not move
  stopped.close();
  m.loop.run();
  expect_clean_close(m.loop);
}

TEST(Timer, RefreshPushesTheDeadlineBackFromNow) {
  ManualLoop m;
  weft::Timer idle(m.loop), poke(m.loop);
  weft::Duration fired_at{};
  idle.start([&] { fired_at = m.elapsed(); }, 100ms);
  int pokes = 0;
  poke.start(
      [&] {
        idle.refresh();  // like a connection seeing traffic before its idle timeout
        if (++pokes == 3) poke.stop();
      },
      60ms, 60ms);
  m.loop.run();
  EXPECT_EQ(fired_at, 280ms);  // last refresh at 180 ms + 100 ms
  idle.close(), poke.close();
  m.loop.run();
  expect_clean_close(m.loop);
}

TEST(Timer, RefreshOnANeverStartedTimerDoesNothing) {
  ManualLoop m;
  weft::Timer timer(m.loop);
  timer.refresh();
  EXPECT_FALSE(timer.is_active());
  timer.close();
  m.loop.run();
  expect_clean_close(m.loop);
}

TEST(Timer, CallbackMayDestroyItsOwnTimer) {
  ManualLoop m;
  auto timer = std::make_unique<weft::Timer>(m.loop);
  bool fired = false;
  timer->start(
      [&] {
        fired = true;
        timer.reset();
      },
      1ms, 1ms);
  m.loop.run();
  EXPECT_TRUE(fired);
  EXPECT_EQ(timer, nullptr);
  expect_clean_close(m.loop);
}

TEST(Timer, CallbackMayRestartItsOwnTimerWithANewCallback) {
  ManualLoop m;
  weft::Timer timer(m.loop);
  std::vector<std::string> seen;
  timer.start(
      [&] {
        seen.push_back("first");
        timer.start([&] { seen.push_back("second"); }, 5ms);
      },
      1ms);
  m.loop.run();
  EXPECT_EQ(seen, (std::vector<std::string>{"first", "second"}));
  timer.close();
  m.loop.run();
  expect_clean_close(m.loop);
}

TEST(Timer, StoppingAnotherDueTimerFromACallbackPreventsIt) {
  ManualLoop m;
  weft::Timer a(m.loop), b(m.loop);
  int b_fired = 0;
  a.start([&] { b.stop(); }, 10ms);
  b.start([&] { ++b_fired; }, 10ms);
  m.loop.run();
  EXPECT_EQ(b_fired, 0);
  a.close(), b.close();
  m.loop.run();
  expect_clean_close(m.loop);
}

TEST(Timer, AMillionActiveTimersFireInDeadlineOrder) {
  ManualLoop m;
  constexpr int kCount = 1'000'000;
  auto timers = std::make_unique<std::optional<weft::Timer>[]>(kCount);
  std::int64_t last_due = -1;  // deadlines in ms
  int fired = 0;
  bool ordered = true;
  for (int i = 0; i < kCount; ++i) {
    timers[static_cast<std::size_t>(i)].emplace(m.loop);
    const std::int64_t delay = (std::int64_t{i} * 7919) % 10007;  // scrambled deadlines
    timers[static_cast<std::size_t>(i)]->start(
        [&, delay] {
          ordered &= delay >= last_due;
          last_due = delay;
          ++fired;
        },
        std::chrono::milliseconds(delay));
  }
  m.loop.run();
  EXPECT_EQ(fired, kCount);
  EXPECT_TRUE(ordered);
  timers.reset();
  expect_clean_close(m.loop);
}

TEST(Timer, ZeroTimeoutFiresOnTheNextIterationNotInline) {
  ManualLoop m;
  weft::Timer timer(m.loop);
  bool fired = false;
  timer.start([&] { fired = true; }, 0ms);
  EXPECT_FALSE(fired);
  m.loop.run();
  EXPECT_TRUE(fired);
  timer.close();
  m.loop.run();
  expect_clean_close(m.loop);
}
