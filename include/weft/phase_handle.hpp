// Idle, Prepare and Check handles: a callback once per loop iteration in their phase.
//  * Idle    — before prepare; while an Idle handle is active the poll phase never blocks.
//  * Prepare — right before polling for I/O.
//  * Check   — right after polling (with immediates).
// Like libuv's uv_idle_t / uv_prepare_t / uv_check_t. Observers (loop lag, utilization)
// are built on Prepare and Check.
#pragma once

#include <weft/function.hpp>
#include <weft/handle.hpp>

namespace weft {

enum class Phase { idle, prepare, check };

template <Phase P>
class PhaseHandle final : public Handle {
 public:
  explicit PhaseHandle(Loop& loop);
  ~PhaseHandle() override;
  void start(Function<void()> cb);
  void stop() noexcept;

 private:
  friend class detail::LoopCore;
  void stop_for_close() noexcept override { stop(); }

  Function<void()> cb_;
  PhaseHandle* prev_in_phase_ = nullptr;
  PhaseHandle* next_in_phase_ = nullptr;
};

using Idle = PhaseHandle<Phase::idle>;
using Prepare = PhaseHandle<Phase::prepare>;
using Check = PhaseHandle<Phase::check>;

extern template class PhaseHandle<Phase::idle>;
extern template class PhaseHandle<Phase::prepare>;
extern template class PhaseHandle<Phase::check>;

}  // namespace weft
