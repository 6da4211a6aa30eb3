#include <weft/observe/loop_monitor.hpp>

#include <weft/loop.hpp>

#include <algorithm>

namespace weft::observe {
namespace {

TimePoint real_now() noexcept { return std::chrono::steady_clock::now(); }
double seconds_of(std::uint64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace

void LoopWindow::merge(const LoopWindow& o) noexcept {
  const std::size_t n = loops + o.loops;
  if (n == 0) return;
  utilization =
      (utilization * static_cast<double>(loops) + o.utilization * static_cast<double>(o.loops)) /
      static_cast<double>(n);
  seconds = std::max(seconds, o.seconds);
  busy_seconds += o.busy_seconds;
  iterations_per_s += o.iterations_per_s;
  lag.merge(o.lag);
  loops = n;
}

double LoopSnapshot::utilization() const noexcept {
  if (probe.elapsed_ns == 0) return 0;
  return 1.0 - static_cast<double>(probe.idle_ns) / static_cast<double>(probe.elapsed_ns);
}

void LoopSnapshot::merge(const LoopSnapshot& o) noexcept {
  loops += o.loops;
  probe.merge(o.probe);
  lag.merge(o.lag);
  window.merge(o.window);
  stalls.loop_stalls += o.stalls.loop_stalls;
  stalls.loop_stall_ns += o.stalls.loop_stall_ns;
  stalls.slow_jobs += o.stalls.slow_jobs;
  stalls.stalled_now = stalls.stalled_now || o.stalls.stalled_now;
}

LoopMonitor::LoopMonitor(Loop& loop, LoopMonitorOptions options)
    : loop_(loop), options_(std::move(options)), timer_(loop) {
  options_.lag_resolution =
      std::max<std::chrono::nanoseconds>(options_.lag_resolution, std::chrono::milliseconds(1));
  loop.update_time();  // the first deadline must not start from a stale cached time
  timer_.set_label("weft.observe lag sampler");
  timer_.start([this] { sample(); }, options_.lag_resolution, options_.lag_resolution);
  timer_.unref();
  expected_ = timer_.due();
  window_start_ = real_now();
  window_probe_ = loop.probe().snapshot(LoopProbe::to_ns(window_start_));
  if (options_.watchdog) watchdog_ = std::make_unique<Watchdog>(loop, options_.watchdog_options);
}

LoopMonitor::~LoopMonitor() { close(); }

void LoopMonitor::close() noexcept {
  watchdog_.reset();
  timer_.close();
}

// The timer was rescheduled before this callback ran, so due() is the next deadline.
void LoopMonitor::sample() {
  const TimePoint now = real_now();
  lag_.record(now > expected_ ? static_cast<std::uint64_t>((now - expected_).count()) : 0);
  expected_ = timer_.due();
  if (now - window_start_ >= options_.window) close_window(now);
}

void LoopMonitor::close_window(TimePoint now) {
  const LoopProbeSnapshot probe = loop_.probe().snapshot(LoopProbe::to_ns(now));
  const HistogramSnapshot lag = lag_.snapshot();
  LoopWindow w;
  w.loops = 1;
  w.seconds = seconds_of(static_cast<std::uint64_t>((now - window_start_).count()));
  const std::uint64_t elapsed = probe.elapsed_ns - window_probe_.elapsed_ns;
  const std::uint64_t idle =
      std::min(elapsed, probe.idle_ns - std::min(probe.idle_ns, window_probe_.idle_ns));
  w.busy_seconds = seconds_of(elapsed - idle);
  w.utilization = elapsed ? seconds_of(elapsed - idle) / seconds_of(elapsed) : 0;
  w.iterations_per_s =
      w.seconds > 0 ? static_cast<double>(probe.iterations - window_probe_.iterations) / w.seconds
                    : 0;
  w.lag = lag.since(window_lag_);
  {
    std::lock_guard lock(window_mu_);
    last_window_ = w;
  }
  window_start_ = now;
  window_probe_ = probe;
  window_lag_ = lag;
}

LoopWindow LoopMonitor::window() const {
  std::lock_guard lock(window_mu_);
  return last_window_;
}

LoopSnapshot LoopMonitor::snapshot() const {
  LoopSnapshot s;
  s.index = options_.loop_index;
  s.probe = loop_.probe().snapshot(LoopProbe::to_ns(real_now()));
  s.lag = lag_.snapshot();
  s.window = window();
  if (watchdog_) s.stalls = watchdog_->counters();
  return s;
}

}  // namespace weft::observe
