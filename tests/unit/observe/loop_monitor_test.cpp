// Lag, utilization and offload, measured by a LoopMonitor on a real loop. Bounds are
// generous: these check behaviour (blocked vs free), not speed.
#include <weft/async.hpp>
#include <weft/observe/loop_monitor.hpp>
#include <weft/pool.hpp>
#include <weft/task.hpp>
#include <weft/timer.hpp>

#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <thread>

namespace weft::observe {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

void spin_for(std::chrono::nanoseconds d) {
  const auto end = SteadyClock::now() + d;
  while (SteadyClock::now() < end) {
  }
}

double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

LoopMonitorOptions no_watchdog() {
  LoopMonitorOptions o;
  o.watchdog = false;
  return o;
}

// Runs the loop for `d` with a repeating timer that calls `tick`.
void run_for(Loop& loop, std::chrono::nanoseconds d, std::chrono::nanoseconds every,
             Function<void()> tick) {
  Timer ticker(loop), stopper(loop);
  ticker.start(std::move(tick), every, every);
  stopper.start(
      [&] {
        ticker.close();
        stopper.close();
      },
      d);
  loop.run();
}

TEST(LoopMonitor, UtilizationFollowsTheBusyShare) {
  Loop loop;
  LoopMonitor monitor(loop, no_watchdog());
  // 10 ms of work every 20 ms: about half busy.
  run_for(loop, 1300ms, 20ms, [] { spin_for(10ms); });
  LoopWindow w = monitor.window();
  LoopSnapshot s = monitor.snapshot();
  monitor.close();
  EXPECT_GT(w.seconds, 0.9);
  EXPECT_GT(w.utilization, 0.3) << "window utilization";
  EXPECT_LT(w.utilization, 0.85);
  EXPECT_GT(w.iterations_per_s, 10);
  EXPECT_GT(s.utilization(), 0.25) << "cumulative utilization";
  EXPECT_LT(s.utilization(), 0.85);
  EXPECT_GT(s.probe.iterations, 20u);
  EXPECT_GE(s.probe.active_handles[static_cast<std::size_t>(HandleKind::timer)], 0u);
  loop.run();
  testing::expect_clean_close(loop);
}

TEST(LoopMonitor, IdleLoopIsMostlyIdle) {
  Loop loop;
  LoopMonitor monitor(loop, no_watchdog());
  run_for(loop, 1200ms, 50ms, [] {});
  LoopWindow w = monitor.window();
  monitor.close();
  EXPECT_LT(w.utilization, 0.2);
  loop.run();
  testing::expect_clean_close(loop);
}

TEST(LoopMonitor, ActiveHandlesByKind) {
  Loop loop;
  LoopMonitor monitor(loop, no_watchdog());
  Timer a(loop), b(loop);
  a.start([] {}, 1h);
  b.start([] {}, 1h);
  LoopSnapshot s = monitor.snapshot();
  // a, b and the monitor's own sampler
  EXPECT_EQ(s.probe.active_handles[static_cast<std::size_t>(HandleKind::timer)], 3u);
  a.close();
  b.close();
  monitor.close();
  EXPECT_EQ(monitor.snapshot().probe.active_handles[static_cast<std::size_t>(HandleKind::timer)],
            0u);
  loop.run();
  testing::expect_clean_close(loop);
}

TEST(LoopMonitor, LagIsHighWhenTheLoopBlocks) {
  Loop loop;
  LoopMonitor monitor(loop, no_watchdog());
  int blocks = 0;
  run_for(loop, 1000ms, 100ms, [&] {
    if (blocks++ < 3) std::this_thread::sleep_for(200ms);  // the mistake: blocking the loop
  });
  HistogramSnapshot lag = monitor.lag();
  monitor.close();
  EXPECT_GE(ms(lag.max()), 150.0);
  EXPECT_GE(ms(lag.percentile(0.99)), 100.0);
  loop.run();
  testing::expect_clean_close(loop);
}

TEST(LoopMonitor, LagStaysLowWhenBlockingWorkIsOnThePool) {
  Loop loop;
  LoopMonitor monitor(loop, no_watchdog());
  auto remaining = std::make_shared<int>(4);
  for (int i = 0; i < 4; ++i) {
    ASSERT_FALSE(queue_work(
        loop, WorkClass::slow, [] { std::this_thread::sleep_for(200ms); },
        [remaining](auto&) { --*remaining; }, nullptr, "test sleep"));
  }
  Timer keep(loop);  // a little longer than the jobs, so the lag sampler sees the whole run
  keep.start([&] { keep.close(); }, 500ms);
  loop.run();
  EXPECT_EQ(*remaining, 0);
  HistogramSnapshot lag = monitor.lag();
  monitor.close();
  EXPECT_GT(lag.count(), 10u);
  EXPECT_LT(ms(lag.percentile(0.99)), 50.0);
  WorkClassHistograms h = loop.runtime().histograms(WorkClass::slow);
  EXPECT_EQ(h.run.count(), 4u);
  EXPECT_GE(ms(h.run.percentile(0.5)), 150.0);
  loop.run();
  testing::expect_clean_close(loop);
}

Task<void> offload_burn(Loop& loop, std::shared_ptr<int> remaining) {
  co_await offload(loop, [] { spin_for(200ms); });
  --*remaining;
}

// offload() end to end: four 200 ms CPU jobs on the cpu pool, the loop's lag stays low.
TEST(LoopMonitor, OffloadKeepsLagLow) {
  Loop loop;
  LoopMonitor monitor(loop, no_watchdog());
  auto remaining = std::make_shared<int>(4);
  for (int i = 0; i < 4; ++i) spawn(loop, offload_burn(loop, remaining));
  Timer keep(loop);
  keep.start([&] { keep.close(); }, 300ms);
  loop.run();
  EXPECT_EQ(*remaining, 0);
  HistogramSnapshot lag = monitor.lag();
  monitor.close();
  EXPECT_GT(lag.count(), 10u);
  EXPECT_LT(ms(lag.percentile(0.99)), 50.0) << "max " << ms(lag.max()) << " ms";
  WorkClassStats cpu = loop.runtime().stats(WorkClass::cpu);
  EXPECT_EQ(cpu.completed, 4u);
  EXPECT_GE(ms(loop.runtime().histograms(WorkClass::cpu).run.percentile(0.5)), 150.0);
  loop.run();
  testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::observe
