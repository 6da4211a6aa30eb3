// with_timeout, when_all, when_any: values, exceptions, cancellation order, clean close.
#include <weft/core.hpp>

#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using weft::testing::expect_clean_close;
using weft::testing::ManualLoop;

namespace {

// Records in `log` when it finishes and when its frame is destroyed.
struct Probe {
  std::vector<std::string>* log;
  std::string name;
  ~Probe() { log->push_back("destroyed " + name); }
};

weft::Task<int> value_after(std::vector<std::string>& log, std::string name, weft::Duration d,
                            int v) {
  Probe p{&log, name};
  co_await weft::sleep(d);
  log.push_back("done " + name);
  co_return v;
}

weft::Task<int> throw_after(std::vector<std::string>& log, std::string name, weft::Duration d) {
  Probe p{&log, name};
  co_await weft::sleep(d);
  throw std::runtime_error("boom " + name);
}

weft::Task<int> immediate(int v) { co_return v; }

bool has_code(const std::system_error& e, std::errc c) { return e.code() == c; }

}  // namespace

TEST(WithTimeout, ReturnsTheValueInTime) {
  ManualLoop m;
  std::vector<std::string> log;
  int v = weft::run_until_complete(m.loop, [&]() -> weft::Task<int> {
    co_return co_await weft::with_timeout(1s, value_after(log, "a", 10ms, 7));
  }());
  EXPECT_EQ(v, 7);
  expect_clean_close(m.loop);  // the timeout's timer is gone
}

TEST(WithTimeout, CancelsTheOperandBeforeThrowingTimedOut) {
  ManualLoop m;
  std::vector<std::string> log;
  weft::run_until_complete(m.loop, [&]() -> weft::Task<void> {
    const auto start = m.loop.now();
    try {
      co_await weft::with_timeout(50ms, value_after(log, "slow", 1h, 1));
      ADD_FAILURE() << "no timeout";
    } catch (const std::system_error& e) {
      EXPECT_TRUE(has_code(e, std::errc::timed_out));
      log.push_back("caught");
    }
    EXPECT_EQ(m.loop.now() - start, 50ms);
  }());
  EXPECT_EQ(log, (std::vector<std::string>{"destroyed slow", "caught"}));
  expect_clean_close(m.loop);  // the hour-long sleep was stopped, not abandoned
}

TEST(WithTimeout, WorksOnANonMovableAwaitable) {
  ManualLoop m;
  weft::run_until_complete(m.loop, [&]() -> weft::Task<void> {
    co_await weft::with_timeout(1s, weft::sleep(10ms));
    EXPECT_THROW(co_await weft::with_timeout(10ms, weft::sleep(1h)), std::system_error);
  }());
  expect_clean_close(m.loop);
}

TEST(WithTimeout, PropagatesTheOperandsException) {
  ManualLoop m;
  std::vector<std::string> log;
  EXPECT_THROW(weft::run_until_complete(m.loop,
                                        [&]() -> weft::Task<void> {
                                          co_await weft::with_timeout(1s,
                                                                      throw_after(log, "x", 1ms));
                                        }()),
               std::runtime_error);
  expect_clean_close(m.loop);
}

TEST(WithTimeout, SynchronousOperandNeverArmsTheTimer) {
  ManualLoop m;
  int v = weft::run_until_complete(m.loop, [&]() -> weft::Task<int> {
    co_return co_await weft::with_timeout(1s, immediate(3));
  }());
  EXPECT_EQ(v, 3);
  expect_clean_close(m.loop);
}

TEST(WhenAll, ReturnsEveryValueAsATuple) {
  ManualLoop m;
  std::vector<std::string> log;
  auto [a, b, c] =
      weft::run_until_complete(m.loop, [&]() -> weft::Task<std::tuple<int, int, weft::Unit>> {
        co_return co_await weft::when_all(value_after(log, "a", 30ms, 1),
                                          value_after(log, "b", 10ms, 2), weft::sleep(20ms));
      }());
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 2);
  EXPECT_EQ(log, (std::vector<std::string>{"done b", "destroyed b", "done a", "destroyed a"}));
  expect_clean_close(m.loop);
}

TEST(WhenAll, FirstExceptionCancelsTheRestInArgumentOrder) {
  ManualLoop m;
  std::vector<std::string> log;
  weft::run_until_complete(m.loop, [&]() -> weft::Task<void> {
    try {
      co_await weft::when_all(value_after(log, "a", 1h, 1), throw_after(log, "b", 10ms),
                              value_after(log, "c", 1h, 3));
      ADD_FAILURE();
    } catch (const std::runtime_error& e) {
      log.push_back(e.what());
    }
  }());
  EXPECT_EQ(log, (std::vector<std::string>{"destroyed b", "destroyed a", "destroyed c", "boom b"}));
  expect_clean_close(m.loop);
}

TEST(WhenAll, LvalueTasksAndSynchronousOperands) {
  ManualLoop m;
  auto t = immediate(5);
  auto [x, y] = weft::run_until_complete(m.loop, [&]() -> weft::Task<std::tuple<int, int>> {
    co_return co_await weft::when_all(t, immediate(6));
  }());
  EXPECT_EQ(x + y, 11);
  expect_clean_close(m.loop);
}

TEST(WhenAny, TheFirstWinsAndTheLosersAreCancelledInOrder) {
  ManualLoop m;
  std::vector<std::string> log;
  auto r =
      weft::run_until_complete(m.loop, [&]() -> weft::Task<std::variant<int, int, weft::Unit>> {
        auto v = co_await weft::when_any(value_after(log, "a", 1h, 1),
                                         value_after(log, "b", 20ms, 2), weft::sleep(1h));
        log.push_back("resumed");
        co_return v;
      }());
  EXPECT_EQ(r.index(), 1u);
  EXPECT_EQ(std::get<1>(r), 2);
  EXPECT_EQ(log, (std::vector<std::string>{"done b", "destroyed b", "destroyed a", "resumed"}));
  expect_clean_close(m.loop);
}

TEST(WhenAny, AWinnersExceptionPropagates) {
  ManualLoop m;
  std::vector<std::string> log;
  EXPECT_THROW(weft::run_until_complete(m.loop,
                                        [&]() -> weft::Task<void> {
                                          co_await weft::when_any(value_after(log, "a", 1h, 1),
                                                                  throw_after(log, "b", 1ms));
                                        }()),
               std::runtime_error);
  expect_clean_close(m.loop);
}

TEST(WhenAny, ASynchronousOperandWinsAndLaterOnesNeverStart) {
  ManualLoop m;
  std::vector<std::string> log;
  auto r = weft::run_until_complete(m.loop, [&]() -> weft::Task<std::variant<int, int>> {
    co_return co_await weft::when_any(immediate(4), value_after(log, "never", 1h, 1));
  }());
  EXPECT_EQ(r.index(), 0u);
  EXPECT_EQ(log, (std::vector<std::string>{}));  // never started: no Probe was made
  expect_clean_close(m.loop);
}

TEST(Combinators, DestroyingTheAwaitingTaskCancelsEverything) {
  ManualLoop m;
  std::vector<std::string> log;
  {
    // The lambda outlives its task: the coroutine reads `log` through the closure.
    auto outer_body = [&]() -> weft::Task<void> {
      co_await weft::when_all(value_after(log, "a", 1h, 1),
                              weft::with_timeout(2h, value_after(log, "b", 1h, 2)));
    };
    auto outer = outer_body();
    weft::spawn(m.loop, [&]() -> weft::Task<void> {
      co_await weft::when_any(std::move(outer), weft::sleep(10ms));
    });
    m.loop.run();
  }
  EXPECT_EQ(log, (std::vector<std::string>{"destroyed a", "destroyed b"}));
  expect_clean_close(m.loop);
}

TEST(WithCancel, DropsTheOperandWhenTheTokenFires) {
  ManualLoop m;
  std::vector<std::string> log;
  weft::CancelSource source;
  weft::Timer t(m.loop);
  t.start(
      [&] {
        source.cancel();
        log.push_back("cancel returned");
      },
      30ms);
  weft::run_until_complete(m.loop, [&]() -> weft::Task<void> {
    try {
      co_await weft::with_cancel(source.token(), value_after(log, "op", 1h, 1));
      ADD_FAILURE();
    } catch (const std::system_error& e) {
      EXPECT_TRUE(has_code(e, std::errc::operation_canceled));
      log.push_back("caught");
    }
    // Already cancelled: never starts.
    EXPECT_THROW(co_await weft::with_cancel(source.token(), value_after(log, "never", 1ms, 2)),
                 std::system_error);
  }());
  EXPECT_EQ(log, (std::vector<std::string>{"destroyed op", "cancel returned", "caught"}));
  t.close();
  m.loop.run();
  expect_clean_close(m.loop);
}

TEST(WithCancel, PassesTheValueThrough) {
  ManualLoop m;
  std::vector<std::string> log;
  weft::CancelSource source;
  int v = weft::run_until_complete(m.loop, [&]() -> weft::Task<int> {
    co_return co_await weft::with_cancel(source.token(), value_after(log, "op", 1ms, 9));
  }());
  EXPECT_EQ(v, 9);
  expect_clean_close(m.loop);
}
