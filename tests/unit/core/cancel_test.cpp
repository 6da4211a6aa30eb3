// CancelSource / CancelToken, and sleep under a token.
#include <weft/fs.hpp>
#include <weft/weft.hpp>

#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using weft::testing::expect_clean_close;
using weft::testing::ManualLoop;

namespace {

bool is_canceled(const std::system_error& e) {
  return e.code() == std::make_error_code(std::errc::operation_canceled);
}

}  // namespace

TEST(Cancel, CallbacksRunOnceInRegistrationOrder) {
  weft::CancelSource source;
  weft::CancelToken token = source.token();
  std::vector<int> order;
  auto r1 = token.on_cancel([&] { order.push_back(1); });
  auto r2 = token.on_cancel([&] { order.push_back(2); });
  {
    auto r3 = token.on_cancel([&] { order.push_back(3); });  // unregistered: never runs
  }
  EXPECT_FALSE(token.cancelled());
  source.cancel();
  source.cancel();
  EXPECT_TRUE(token.cancelled());
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  auto late = token.on_cancel([&] { order.push_back(4); });  // already cancelled: runs now
  EXPECT_EQ(order, (std::vector<int>{1, 2, 4}));
}

TEST(Cancel, CallbackMayDestroyOtherRegistrationsAndTheSource) {
  auto source = std::make_unique<weft::CancelSource>();
  weft::CancelToken token = source->token();
  auto second = std::make_unique<weft::CancelRegistration>();
  int ran = 0;
  auto first = token.on_cancel([&] {
    ++ran;
    second.reset();
  });
  second->attach(token, [&] { ran += 100; });
  weft::CancelSource* raw = source.get();
  auto killer = token.on_cancel([&] { source.reset(); });
  raw->cancel();
  EXPECT_EQ(ran, 1);
  EXPECT_TRUE(token.cancelled());  // the token outlives its source
}

TEST(Cancel, DefaultTokenIsNeverCancelled) {
  weft::CancelToken token;
  EXPECT_FALSE(token.can_be_cancelled());
  EXPECT_FALSE(token.cancelled());
  auto r = token.on_cancel([] { FAIL(); });
  EXPECT_FALSE(r.attached());
}

TEST(Cancel, SleepThrowsCanceledAndStopsItsTimer) {
  ManualLoop m;
  weft::CancelSource source;
  bool caught = false;
  weft::spawn(m.loop, [&]() -> weft::Task<void> {
    try {
      co_await weft::sleep(1h, source.token());
    } catch (const std::system_error& e) {
      caught = is_canceled(e);
    }
  });
  weft::Timer canceller(m.loop);
  canceller.start([&] { source.cancel(); }, 5ms);
  const auto start = m.loop.now();
  m.loop.run();
  EXPECT_TRUE(caught);
  EXPECT_LT(m.loop.now() - start, 1s);  // the hour-long timer did not keep the loop
  canceller.close();
  m.loop.run();
  expect_clean_close(m.loop);
}

TEST(Cancel, SleepWithCancelledTokenDoesNotStart) {
  ManualLoop m;
  weft::CancelSource source;
  source.cancel();
  EXPECT_THROW(
      weft::run_until_complete(
          m.loop, [&]() -> weft::Task<void> { co_await weft::sleep(1h, source.token()); }()),
      std::system_error);
  expect_clean_close(m.loop);
}

TEST(Cancel, CancelDoesNotResumeInsideCancel) {
  ManualLoop m;
  weft::CancelSource source;
  bool resumed = false, inside = false;
  weft::spawn(m.loop, [&]() -> weft::Task<void> {
    try {
      co_await weft::sleep(1h, source.token());
    } catch (const std::system_error&) {
    }
    resumed = true;
  });
  weft::Timer canceller(m.loop);
  canceller.start(
      [&] {
        source.cancel();
        inside = resumed;
      },
      1ms);
  m.loop.run();
  EXPECT_TRUE(resumed);
  EXPECT_FALSE(inside);
  canceller.close();
  m.loop.run();
  expect_clean_close(m.loop);
}

// A running pool job sees the token through this_job::stop_requested() and returns early;
// the await throws operation_canceled once it has returned.
TEST(Cancel, OffloadedJobStopsEarlyOnCancel) {
  weft::Loop loop;
  weft::CancelSource source;
  std::atomic<bool> started{false}, stopped_early{false};
  weft::Timer canceller(loop);
  const auto t0 = std::chrono::steady_clock::now();
  weft::run_until_complete(loop, [&]() -> weft::Task<void> {
    canceller.start([&] { source.cancel(); }, 20ms);
    try {
      co_await weft::offload(
          [&] {
            started = true;
            const auto until = std::chrono::steady_clock::now() + 10s;
            while (std::chrono::steady_clock::now() < until) {
              if (weft::this_job::stop_requested()) {
                stopped_early = true;
                return 0;
              }
            }
            return 1;
          },
          source.token());
      ADD_FAILURE() << "not cancelled";
    } catch (const std::system_error& e) {
      EXPECT_TRUE(is_canceled(e));
    }
  }());
  EXPECT_TRUE(started);
  EXPECT_TRUE(stopped_early);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  canceller.close();
  loop.run();
  expect_clean_close(loop);
}

TEST(Cancel, BlockingWithCancelledTokenNeverRuns) {
  weft::Loop loop;
  weft::CancelSource source;
  source.cancel();
  bool ran = false;
  EXPECT_THROW(weft::run_until_complete(loop,
                                        [&]() -> weft::Task<void> {
                                          co_await weft::blocking([&] { ran = true; },
                                                                  weft::WorkClass::slow,
                                                                  source.token());
                                        }()),
               std::system_error);
  EXPECT_FALSE(ran);
  expect_clean_close(loop);
}

// with_timeout drops a running job: it is asked to stop, and its result is discarded.
TEST(Cancel, WithTimeoutAsksARunningJobToStop) {
  weft::Loop loop;
  std::atomic<bool> stopped_early{false};
  weft::run_until_complete(loop, [&]() -> weft::Task<void> {
    EXPECT_THROW(co_await weft::with_timeout(20ms, weft::offload([&stopped_early] {
                                               const auto until =
                                                   std::chrono::steady_clock::now() + 10s;
                                               while (std::chrono::steady_clock::now() < until) {
                                                 if (weft::this_job::stop_requested()) {
                                                   stopped_early = true;
                                                   return;
                                                 }
                                               }
                                             })),
                 std::system_error);
  }());
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (!stopped_early && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(stopped_early);
  loop.run();
  expect_clean_close(loop);
}

// with_cancel gives the fs awaitables (which take no token of their own) one.
TEST(Cancel, WithCancelOverAnFsOperation) {
  weft::Loop loop;
  weft::CancelSource live, dead;
  dead.cancel();
  const std::string path = "/proc/self/status";
  weft::run_until_complete(loop, [&]() -> weft::Task<void> {
    std::string s = co_await weft::with_cancel(live.token(), weft::fs::read_file(path));
    EXPECT_NE(s.find("Name:"), std::string::npos);
    EXPECT_THROW(co_await weft::with_cancel(dead.token(), weft::fs::read_file(path)),
                 std::system_error);
  }());
  loop.run();
  expect_clean_close(loop);
}
