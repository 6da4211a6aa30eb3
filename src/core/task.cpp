#include <weft/task.hpp>

#include "core/loop_core.hpp"

namespace weft::detail {

SpawnedRoot::promise_type::~promise_type() {
  auto* n = static_cast<SpawnedNode*>(node);
  if (n && loop) weft::detail::LoopAccess::core(*loop).remove_spawned(*n);
  delete n;
}

void register_spawned(Loop& loop, std::coroutine_handle<SpawnedRoot::promise_type> h) {
  loop.assert_loop_thread();
  auto* n = new SpawnedNode{};
  n->frame = h;
  h.promise().loop = &loop;
  h.promise().node = n;
  weft::detail::LoopAccess::core(loop).add_spawned(*n);
  loop.queue_microtask([h] { h.resume(); });
}

}  // namespace weft::detail
