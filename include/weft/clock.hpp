// Time sources for a Loop. The loop reads its clock once per iteration and caches it.
#pragma once

#include <chrono>

namespace weft {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const noexcept = 0;
  // A manual clock lets an idle loop jump straight to its next timer.
  virtual bool auto_advances() const noexcept { return false; }
  virtual void advance_to(TimePoint) noexcept {}
};

// The real monotonic clock (CLOCK_MONOTONIC).
class SteadyClock final : public Clock {
 public:
  TimePoint now() const noexcept override { return std::chrono::steady_clock::now(); }
};

// Paused, auto-advancing time for tests (like tokio's `time::pause`). It moves only when
// told to, or — with auto-advance on — when the loop has nothing to do but wait for a
// timer: then it jumps to that timer's deadline instead of sleeping. It never jumps while
// pool jobs are in flight, since their completions are real-time events.
// Single-threaded: read and advanced on the loop thread only.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(bool auto_advance = true) : auto_advance_(auto_advance) {}
  TimePoint now() const noexcept override { return now_; }
  bool auto_advances() const noexcept override { return auto_advance_; }
  void advance_to(TimePoint t) noexcept override {
    if (t > now_) now_ = t;
  }
  void advance(Duration d) noexcept { now_ += d; }

 private:
  TimePoint now_{std::chrono::hours(1)};  // an arbitrary epoch, not zero
  bool auto_advance_;
};

}  // namespace weft
