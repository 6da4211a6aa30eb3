// Timer: one-shot or repeating callbacks on the loop's clock.
//
// Deadlines are measured from the loop's cached now(). Equal deadlines fire in the order
// the timers were started. A repeating timer is rescheduled `repeat` after the time of
// the iteration it fired in. Starting, stopping and refresh() are O(log n) in the number
// of active timers; a million active timers is normal load.
//
// Cancellation: stop() or destruction removes the timer at once; its callback does not
// run afterwards. A callback may stop, restart or destroy its own timer.
#pragma once

#include <weft/clock.hpp>
#include <weft/function.hpp>
#include <weft/handle.hpp>

#include <cstdint>

namespace weft {
namespace detail {
class TimerHeap;
}  // namespace detail

class Timer final : public Handle {
 public:
  explicit Timer(Loop& loop);
  ~Timer() override;

  // (Re)starts the timer: cb runs `timeout` from now, then every `repeat` if non-zero.
  void start(Function<void()> cb, Duration timeout, Duration repeat = Duration::zero());
  void stop() noexcept;
  // Restarts the countdown from now with the last timeout, keeping the callback: the
  // cheap re-arm for idle timeouts. Does nothing on a timer that was never started.
  void refresh();

  void set_repeat(Duration repeat) noexcept { repeat_ = repeat; }
  Duration repeat() const noexcept { return repeat_; }
  Duration timeout() const noexcept { return timeout_; }
  // The deadline of an active timer.
  TimePoint due() const noexcept { return due_; }

 private:
  friend class detail::LoopCore;
  friend class detail::TimerHeap;
  void stop_for_close() noexcept override { stop(); }
  void arm(TimePoint due);

  Function<void()> cb_;
  TimePoint due_{};
  Duration timeout_{};
  Duration repeat_{};
  std::uint64_t seq_ = 0;         // start order, breaks ties between equal deadlines
  std::uint32_t heap_index_ = 0;  // position in the loop's timer heap while active
};

}  // namespace weft
