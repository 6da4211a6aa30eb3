#include <weft/phase_handle.hpp>

#include "core/loop_core.hpp"

namespace weft {
namespace {
constexpr HandleKind kind_of(Phase p) {
  return p == Phase::idle      ? HandleKind::idle
         : p == Phase::prepare ? HandleKind::prepare
                               : HandleKind::check;
}
}  // namespace

template <Phase P>
PhaseHandle<P>::PhaseHandle(Loop& loop) : Handle(loop, kind_of(P)) {}

template <Phase P>
PhaseHandle<P>::~PhaseHandle() {
  if (loop_alive()) stop();
}

template <Phase P>
void PhaseHandle<P>::start(Function<void()> cb) {
  assert_loop_thread();
  if (is_closing() || is_closed()) return;
  cb_ = std::move(cb);
  if (is_active()) return;
  weft::detail::LoopAccess::core(loop()).phase_start(*this);
  set_active(true);
}

template <Phase P>
void PhaseHandle<P>::stop() noexcept {
  assert_loop_thread();
  if (!is_active() || !loop_alive()) return;
  weft::detail::LoopAccess::core(loop()).phase_stop(*this);
  set_active(false);
}

template class PhaseHandle<Phase::idle>;
template class PhaseHandle<Phase::prepare>;
template class PhaseHandle<Phase::check>;

}  // namespace weft
