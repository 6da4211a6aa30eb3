#include <weft/timer.hpp>

#include "core/loop_core.hpp"

namespace weft {

Timer::Timer(Loop& loop) : Handle(loop, HandleKind::timer) {}

Timer::~Timer() {
  if (!loop_alive()) return;
  stop();
  if (weft::detail::LoopAccess::core(loop()).firing_timer == this)
    weft::detail::LoopAccess::core(loop()).firing_timer = nullptr;
}

void Timer::start(Function<void()> cb, Duration timeout, Duration repeat) {
  assert_loop_thread();
  if (is_closing() || is_closed()) return;
  cb_ = std::move(cb);
  timeout_ = timeout < Duration::zero() ? Duration::zero() : timeout;
  repeat_ = repeat < Duration::zero() ? Duration::zero() : repeat;
  arm(loop().now() + timeout_);
}

void Timer::arm(TimePoint due) { weft::detail::LoopAccess::core(loop()).start_timer(*this, due); }

void Timer::stop() noexcept {
  assert_loop_thread();
  if (loop_alive()) weft::detail::LoopAccess::core(loop()).stop_timer(*this);
}

void Timer::refresh() {
  assert_loop_thread();
  if (seq_ == 0 || is_closing() || is_closed()) return;  // never started
  arm(loop().now() + timeout_);
}

}  // namespace weft
