// The loop's timers stay on time while 200 slow fs calls are in flight.
//
// Each slow call is a real read_file of a FIFO: its pool thread blocks in open(2) until a
// writer shows up, then in read(2) until the writer has held the FIFO for 20-50 ms and
// closed it. Four writer threads serve the FIFOs in submission order (writer k takes
// FIFOs k, k+4, ...), so with four pool threads every call takes 20-50 ms of pool time
// while the loop only sees completions.
#include "fs_test_util.hpp"

#include <algorithm>
#include <thread>

#include <weft/timer.hpp>

namespace weft::fs::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kSlowCalls = 200;
constexpr int kThreads = 4;

std::chrono::milliseconds hold_time(int i) { return std::chrono::milliseconds(20 + (i * 7) % 31); }

// Opens fifo for writing once its reader (a pool thread) has it open, holds it, writes
// the payload and closes. False if no reader came in time.
bool serve_fifo(const std::string& fifo, int i, Clock::time_point deadline) {
  int fd;
  while ((fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
    if (errno != ENXIO || Clock::now() > deadline) return false;  // ENXIO: no reader yet
    std::this_thread::sleep_for(200us);
  }
  std::this_thread::sleep_for(hold_time(i));
  std::string payload = "payload " + std::to_string(i);
  bool ok = ::write(fd, payload.data(), payload.size()) == static_cast<ssize_t>(payload.size());
  ::close(fd);
  return ok;
}

long long us(Clock::duration d) {
  return static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

class FsTiming : public FsTest {};

TEST_F(FsTiming, TimersStayOnTimeWhile200SlowCallsAreInFlight) {
  auto rt = std::make_shared<Runtime>(PoolOptions{.io_threads = kThreads});
  loop = std::make_unique<Loop>(LoopOptions{.runtime = rt});
  for (int i = 0; i < kSlowCalls; ++i) {
    ASSERT_EQ(::mkfifo(p("fifo" + std::to_string(i)).c_str(), 0600), 0);
  }
  put(p("plain"), "plain");

  int completed = 0, failed = 0, fast_done = 0;
  auto check = [&](int i) {
    return [&, i](Outcome<std::string>& r) {
      if (!r || r.value() != "payload " + std::to_string(i)) ++failed;
      ++completed;
    };
  };
  for (int i = 0; i < kSlowCalls; ++i) {
    std::string fifo = p("fifo" + std::to_string(i));
    if (i % 2 == 0) {
      read_file(*loop, fifo, check(i));
    } else {  // half of them through the coroutine form
      spawn(*loop, [&, fifo, i]() -> Task<void> {
        Outcome<std::string> r = co_await read_file(fifo);
        check(i)(r);
      });
    }
  }
  for (int i = 0; i < 20; ++i) {  // fast real calls mixed in, queued behind the slow ones
    stat(*loop, p("plain"), [&](Outcome<Stat>& r) { fast_done += r.ok() ? 1 : 0; });
  }

  // A 10 ms periodic timer measures how late each tick is.
  Timer ticker(*loop);
  Clock::time_point last = Clock::now();
  std::vector<Clock::duration> lateness;
  lateness.reserve(1024);
  std::uint64_t max_in_flight = 0;
  ticker.start(
      [&] {
        WorkClassStats now_stats = rt->stats(WorkClass::fs);
        max_in_flight = std::max(max_in_flight, now_stats.queued + now_stats.running);
        Clock::time_point now = Clock::now();
        lateness.push_back(now - last - 10ms);
        last = now;
        if (completed == kSlowCalls && fast_done == 20) ticker.stop();
      },
      10ms, 10ms);

  std::vector<std::thread> writers;
  std::atomic<int> writer_failures{0};
  Clock::time_point deadline = Clock::now() + 30s;
  for (int k = 0; k < kThreads; ++k) {
    writers.emplace_back([&, k] {
      for (int i = k; i < kSlowCalls; i += kThreads) {
        if (!serve_fifo(p("fifo" + std::to_string(i)), i, deadline)) ++writer_failures;
      }
    });
  }
  Clock::time_point started = Clock::now();
  loop->run();
  auto elapsed = Clock::now() - started;
  for (auto& w : writers) w.join();

  EXPECT_EQ(writer_failures.load(), 0);
  EXPECT_EQ(completed, kSlowCalls);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(fast_done, 20);
  // 200 calls of 20-50 ms on 4 threads: at least ~1.7 s of wall time.
  EXPECT_GT(elapsed, 1500ms);
  ASSERT_GT(lateness.size(), 100U);
  EXPECT_GE(max_in_flight, static_cast<std::uint64_t>(kSlowCalls));
  // A loop that waited for a call would be 20-50 ms late on most ticks. The machine's own
  // noise (sanitizers, ctest -j2, eight threads on two cores) makes a few ticks late too, so
  // the test asks for the typical tick on time and only a handful late by a call's length.
  std::sort(lateness.begin(), lateness.end());
  Clock::duration median = lateness[lateness.size() / 2];
  auto late = std::count_if(lateness.begin(), lateness.end(), [](auto d) { return d >= 20ms; });
  EXPECT_LT(median, 5ms) << "median lateness " << us(median) << " us";
  EXPECT_LE(late, 5) << late << " of " << lateness.size() << " ticks late by 20 ms or more";
  WorkClassStats s = rt->stats(WorkClass::fs);
  EXPECT_EQ(s.completed, static_cast<std::uint64_t>(kSlowCalls + 20));
  std::printf("fs timing: %zu ticks, median lateness %lld us, worst %lld us, %lld ms elapsed\n",
              lateness.size(), us(median), us(lateness.back()),
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
}

}  // namespace
}  // namespace weft::fs::testing
