// LoopMonitor: the measurements of one loop — event-loop lag (like Node's
// monitorEventLoopDelay), utilization (busy vs idle in the poll wait, like
// eventLoopUtilization), iterations, active handles by kind — and, optionally, its
// Watchdog.
//
// Lag: a repeating timer every `lag_resolution` (default 10 ms) records how late it fired
// (real time of the callback minus its deadline) into a histogram. A loop that is blocked
// shows it as lag; a loop whose work is on the pool does not. The timer is unref'd: it
// never keeps the loop alive. Like Node's, the figure includes the timer's own
// granularity (the poll timeout is in whole milliseconds), so an idle loop shows ~0-1 ms.
//
// Window: every `window` (default 1 s) the monitor closes a window and keeps its
// utilization, iterations per second and lag distribution (window()), so a reader gets
// "the last second" without keeping state of its own.
//
// Threads: construct, close and destroy on the loop thread; snapshot(), window() and the
// watchdog's accessors work from any thread. close() (or destruction) before the loop
// closes, like any handle.
#pragma once

#include <weft/histogram.hpp>
#include <weft/loop_probe.hpp>
#include <weft/observe/watchdog.hpp>
#include <weft/timer.hpp>

#include <chrono>
#include <memory>
#include <mutex>

namespace weft::observe {

struct LoopMonitorOptions {
  std::chrono::nanoseconds lag_resolution = std::chrono::milliseconds(10);
  std::chrono::nanoseconds window = std::chrono::seconds(1);
  bool watchdog = true;
  WatchdogOptions watchdog_options;
  // This loop's number in a program with several (the N of the loop="N" series in
  // stats.hpp; watchdog reports name it when watchdog_options.loop_name is empty and
  // several loops are monitored: see observe::mount).
  unsigned loop_index = 0;
};

// One closed window (merge() sums loops: utilization becomes the mean over loops).
struct LoopWindow {
  double seconds = 0;
  double busy_seconds = 0;
  double utilization = 0;  // busy / elapsed, 0..1
  double iterations_per_s = 0;
  HistogramSnapshot lag;  // ns
  std::size_t loops = 0;
  void merge(const LoopWindow& o) noexcept;
};

struct LoopSnapshot {
  std::size_t loops = 1;
  unsigned index = 0;       // LoopMonitorOptions::loop_index (meaningless once merged)
  LoopProbeSnapshot probe;  // cumulative since each loop was created
  HistogramSnapshot lag;    // ns, since the monitor started
  LoopWindow window;
  WatchdogCounters stalls;
  double utilization() const noexcept;  // cumulative busy share
  void merge(const LoopSnapshot& o) noexcept;
};

class LoopMonitor {
 public:
  explicit LoopMonitor(Loop& loop, LoopMonitorOptions options = {});
  ~LoopMonitor();
  LoopMonitor(const LoopMonitor&) = delete;
  LoopMonitor& operator=(const LoopMonitor&) = delete;

  // Stops sampling and the watchdog. Loop thread; idempotent.
  void close() noexcept;

  Loop& loop() const noexcept { return loop_; }
  const LoopMonitorOptions& options() const noexcept { return options_; }
  // Any thread.
  LoopSnapshot snapshot() const;
  HistogramSnapshot lag() const noexcept { return lag_.snapshot(); }
  LoopWindow window() const;
  const Watchdog* watchdog() const noexcept { return watchdog_.get(); }

 private:
  void sample();
  void close_window(TimePoint now);

  Loop& loop_;
  LoopMonitorOptions options_;
  Timer timer_;
  Histogram lag_;
  TimePoint expected_{};
  // the window being filled (loop thread)
  TimePoint window_start_{};
  LoopProbeSnapshot window_probe_;
  HistogramSnapshot window_lag_;
  mutable std::mutex window_mu_;
  LoopWindow last_window_;
  std::unique_ptr<Watchdog> watchdog_;
};

}  // namespace weft::observe
