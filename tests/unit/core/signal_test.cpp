// Signals arrive as ordinary loop callbacks.
#include <weft/weft.hpp>

#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <csignal>

using namespace std::chrono_literals;
using weft::testing::expect_clean_close;

TEST(Signal, RaisedSignalRunsTheCallbackOnTheLoopThread) {
  weft::Loop loop;
  weft::Signal sig(loop);
  int got = 0;
  std::thread::id where;
  ASSERT_FALSE(sig.start(SIGUSR1, [&](int signum) {
    got = signum;
    where = std::this_thread::get_id();
    sig.stop();
  }));
  // The handler runs on the raising thread, not the loop's: the callback must still come
  // from the loop. A thread-directed raise() rather than kill(getpid()): a process-directed
  // signal may land on TSan's background thread, which defers it and never runs it.
  std::thread([] { ::raise(SIGUSR1); }).join();
  loop.run();
  EXPECT_EQ(got, SIGUSR1);
  EXPECT_EQ(where, std::this_thread::get_id());
  sig.close();
  loop.run();
  expect_clean_close(loop);
}

TEST(Signal, EveryWatcherOfASignalIsCalledAndOneshotStopsItself) {
  weft::Loop loop;
  weft::Signal a(loop), b(loop);
  int a_calls = 0, b_calls = 0;
  ASSERT_FALSE(a.start_oneshot(SIGUSR2, [&](int) { ++a_calls; }));
  ASSERT_FALSE(b.start(SIGUSR2, [&](int) {
    if (++b_calls == 2) b.stop();
  }));
  ::raise(SIGUSR2);
  loop.run(weft::RunMode::once);
  EXPECT_EQ(a_calls, 1);
  EXPECT_FALSE(a.is_active());
  ::raise(SIGUSR2);
  loop.run();
  EXPECT_EQ(a_calls, 1);
  EXPECT_EQ(b_calls, 2);
  a.close(), b.close();
  loop.run();
  expect_clean_close(loop);
}

TEST(Signal, UnrefedSignalDoesNotKeepTheLoopAlive) {
  weft::Loop loop;
  weft::Signal sig(loop);
  ASSERT_FALSE(sig.start(SIGHUP, [](int) {}));
  sig.unref();
  EXPECT_FALSE(loop.run());
  sig.close();
  loop.run();
  expect_clean_close(loop);
}

TEST(Signal, InvalidSignalIsRejected) {
  weft::Loop loop;
  weft::Signal sig(loop);
  EXPECT_EQ(sig.start(SIGKILL, [](int) {}), std::errc::invalid_argument);
  EXPECT_EQ(sig.start(0, [](int) {}), std::errc::invalid_argument);
  sig.close();
  loop.run();
  expect_clean_close(loop);
}

TEST(Signal, SigpipeIsIgnoredOnceALoopExists) {
  weft::Loop loop;
  struct sigaction current {};
  ::sigaction(SIGPIPE, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_IGN);
  expect_clean_close(loop);
}
