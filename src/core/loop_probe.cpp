#include <weft/loop_probe.hpp>

#include <algorithm>

namespace weft {

void LoopProbeSnapshot::merge(const LoopProbeSnapshot& o) noexcept {
  iterations += o.iterations;
  idle_ns += o.idle_ns;
  elapsed_ns += o.elapsed_ns;
  for (std::size_t i = 0; i < active_handles.size(); ++i) active_handles[i] += o.active_handles[i];
}

LoopProbe::LoopProbe() noexcept : started_ns_(to_ns(std::chrono::steady_clock::now())) {
  idle_since_ns_.store(started_ns_, std::memory_order_relaxed);  // stopped until run()
}

void LoopProbe::add_idle(std::int64_t from, std::int64_t to) noexcept {
  if (to <= from) return;
  idle_ns_.store(idle_ns_.load(std::memory_order_relaxed) + static_cast<std::uint64_t>(to - from),
                 std::memory_order_relaxed);
}

// The idle total is updated before the activity changes back to running, so a reader that
// sees `running` (acquire) also sees the finished wait in idle_ns_.
void LoopProbe::enter_poll(std::int64_t now_ns) noexcept {
  idle_since_ns_.store(now_ns, std::memory_order_relaxed);
  activity_.store(LoopActivity::polling, std::memory_order_release);
}

void LoopProbe::leave_poll(std::int64_t now_ns) noexcept {
  add_idle(idle_since_ns_.load(std::memory_order_relaxed), now_ns);
  activity_.store(LoopActivity::running, std::memory_order_release);
  enter_callback("(loop)");
}

void LoopProbe::enter_run(std::int64_t now_ns) noexcept {
  if (!has_thread_.load(std::memory_order_relaxed) ||
      !pthread_equal(thread_.load(), pthread_self())) {
    thread_.store(pthread_self(), std::memory_order_relaxed);
    has_thread_.store(true, std::memory_order_release);
  }
  add_idle(idle_since_ns_.load(std::memory_order_relaxed), now_ns);
  activity_.store(LoopActivity::running, std::memory_order_release);
  enter_callback("(loop)");
}

void LoopProbe::leave_run(std::int64_t now_ns) noexcept {
  idle_since_ns_.store(now_ns, std::memory_order_relaxed);
  activity_.store(LoopActivity::stopped, std::memory_order_release);
}

LoopProbeSnapshot LoopProbe::snapshot(std::int64_t now_ns) const noexcept {
  LoopProbeSnapshot s;
  const LoopActivity a = activity_.load(std::memory_order_acquire);
  s.idle_ns = idle_ns_.load(std::memory_order_relaxed);
  if (a != LoopActivity::running) {  // count the wait still going on
    const std::int64_t since = idle_since_ns_.load(std::memory_order_relaxed);
    if (now_ns > since) s.idle_ns += static_cast<std::uint64_t>(now_ns - since);
  }
  s.elapsed_ns = now_ns > started_ns_ ? static_cast<std::uint64_t>(now_ns - started_ns_) : 0;
  s.idle_ns = std::min(s.idle_ns, s.elapsed_ns);
  s.iterations = iterations_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < active_.size(); ++i) {
    s.active_handles[i] = active_[i].load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace weft
