// fs operations with a CancelToken (Op::with_token): a queued job is removed and never
// runs; a running read_file stops between reads; the await throws operation_canceled.
#include "fs_test_util.hpp"

#include <weft/cancel.hpp>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace weft::fs::testing {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

class FsCancel : public FsTest {};

// Holds every thread of the I/O pool (bounded in time), so that fs jobs queue.
struct PoolBlockers {
  std::atomic<bool> release{false};
  std::atomic<int> running{0};
};

Task<void> hold_one_thread(PoolBlockers& b) {
  co_await blocking(
      [&b] {
        b.running.fetch_add(1);
        const auto until = SteadyClock::now() + 10s;
        while (!b.release.load() && SteadyClock::now() < until) std::this_thread::sleep_for(1ms);
      },
      WorkClass::fs);
}

TEST_F(FsCancel, AQueuedJobIsRemovedAndNeverRuns) {
  PoolBlockers blockers;
  const unsigned threads = loop->runtime().io_threads();
  run([&]() -> Task<void> {
    for (unsigned i = 0; i < threads; ++i) spawn(*loop, hold_one_thread(blockers));
    while (blockers.running.load() < static_cast<int>(threads)) co_await sleep(1ms);
    CancelSource source;
    std::error_code ec;
    auto write = [&]() -> Task<void> {
      try {
        co_await write_file(p("never"), "x").with_token(source.token());
      } catch (const Error& e) {
        ec = e.code();
      }
    };
    spawn(*loop, write());
    co_await sleep(20ms);
    EXPECT_FALSE(ec);
    source.cancel();
    co_await sleep(5ms);  // resumed in the pending phase, while the pool is still held
    EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
    blockers.release = true;
  }());
  loop->run();
  EXPECT_FALSE(exists(p("never")));
  EXPECT_EQ(loop->runtime().stats(WorkClass::fs).canceled, 1u);
}

TEST_F(FsCancel, AnAlreadyCancelledTokenStartsNothing) {
  CancelSource source;
  source.cancel();
  std::optional<Error> e =
      error_of([&] { return write_file(p("never"), "x").with_token(source.token()); });
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code(), std::errc::operation_canceled);
  EXPECT_STREQ(e->op(), "write_file");
  EXPECT_FALSE(exists(p("never")));
}

TEST_F(FsCancel, ACompletedOperationIsNotAffected) {
  CancelSource source;
  run([&]() -> Task<void> {
    co_await write_file(p("kept"), "data").with_token(source.token());
    source.cancel();
    std::string s = co_await read_file(p("kept"));
    EXPECT_EQ(s, "data");
  }());
}

// read_file of a FIFO whose writer never stops (for 10 s): cancelled, the job returns
// after its next read instead of reading on, and only then does the await throw.
TEST_F(FsCancel, ARunningReadFileStopsBetweenReads) {
  const std::string fifo = p("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::atomic<bool> stop_writer{false};
  std::thread writer([&] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);  // EPIPE instead, once the reader is gone
    int fd = ::open(fifo.c_str(), O_WRONLY);
    if (fd < 0) return;
    const auto until = SteadyClock::now() + 10s;
    while (!stop_writer.load() && SteadyClock::now() < until) {
      if (::write(fd, "chunk\n", 6) < 0) break;
      std::this_thread::sleep_for(2ms);
    }
    ::close(fd);
  });
  SteadyClock::duration took{};
  std::error_code ec;
  run([&]() -> Task<void> {
    CancelSource source;
    auto cancel_later = [&]() -> Task<void> {
      co_await sleep(100ms);
      source.cancel();
    };
    spawn(*loop, cancel_later());
    const auto began = SteadyClock::now();
    try {
      co_await read_file(fifo).with_token(source.token());
    } catch (const Error& e) {
      ec = e.code();
    }
    took = SteadyClock::now() - began;
  }());
  stop_writer = true;
  writer.join();
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  EXPECT_LT(took, 5s);
}

}  // namespace
}  // namespace weft::fs::testing
