// loop_lag_demo: why blocking work belongs on the pool.
//
// A 10 ms periodic timer measures how late it fires. First, 100 jobs that each block for
// 50 ms go through the worker pool: the loop stays free and the timer stays on time.
// Then the same 50 ms blocking runs on the loop thread: every timer tick waits for it.
#include <weft/weft.hpp>

#include <algorithm>
#include <cstdio>
#include <thread>

using namespace std::chrono_literals;

namespace {

constexpr auto kTick = 10ms;
constexpr auto kBlock = 50ms;
constexpr int kJobs = 100;

// Measures the worst lateness of a periodic timer while `load` runs.
template <class Load>
double worst_lateness_ms(weft::Loop& loop, Load load) {
  weft::Timer ticker(loop);
  auto expected = std::chrono::steady_clock::now() + kTick;
  std::chrono::steady_clock::duration worst{};
  ticker.start(
      [&] {
        auto now = std::chrono::steady_clock::now();
        worst = std::max(worst, now - expected);
        expected = now + kTick;
      },
      kTick, kTick);
  load([&] { ticker.close(); });
  loop.run();
  return std::chrono::duration<double, std::milli>(worst).count();
}

}  // namespace

int main() {
  weft::Loop loop;

  double on_pool = worst_lateness_ms(loop, [&](auto done) {
    auto remaining = std::make_shared<int>(kJobs);
    for (int i = 0; i < kJobs; ++i) {
      auto ec = weft::queue_work(
          loop, weft::WorkClass::slow, [] { std::this_thread::sleep_for(kBlock); },
          [remaining, done](auto&) mutable {
            if (--*remaining == 0) done();
          });
      if (ec) std::fprintf(stderr, "queue_work: %s\n", ec.message().c_str());
    }
  });
  std::printf("%d jobs x %lld ms on the pool   -> worst timer lateness: %.1f ms\n", kJobs,
              static_cast<long long>(kBlock.count()), on_pool);

  weft::Timer blocker(loop);
  int blocked = 0;
  double on_loop = worst_lateness_ms(loop, [&](auto done) {
    blocker.start(
        [&, done]() mutable {
          std::this_thread::sleep_for(kBlock);  // the mistake: blocking on the loop thread
          if (++blocked == 10) {
            blocker.close();
            done();
          }
        },
        kTick, kTick);
  });
  std::printf("10 x %lld ms blocking on the loop -> worst timer lateness: %.1f ms\n",
              static_cast<long long>(kBlock.count()), on_loop);
  return loop.close() ? 1 : 0;
}
