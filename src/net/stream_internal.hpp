// Internal helpers shared by the Stream implementation files.
#pragma once

#include <weft/net/stream.hpp>

#include <utility>

namespace weft::net {

// Marks "inside one of the stream's own event handlers" for the duration of a handler
// and detects the stream's destruction by a user callback: the destructor sets *dead_.
// After every user callback the handler checks `dead` before touching the stream.
struct Stream::Guard {
  explicit Guard(Stream& s) noexcept
      : stream(s), prev_dead(s.dead_), prev_in_handler(s.in_handler_) {
    s.dead_ = &dead;
    s.in_handler_ = true;
  }
  ~Guard() {
    if (dead) {
      if (prev_dead) *prev_dead = true;
      return;
    }
    stream.dead_ = prev_dead;
    stream.in_handler_ = prev_in_handler;
  }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

  Stream& stream;
  bool dead = false;
  bool* prev_dead;
  bool prev_in_handler;
};

// Calls a persistent callback (data, drain) moved out of its slot, so that the callback
// may replace itself; puts it back unless it was replaced or the stream died.
template <class Slot, class... Args>
auto call_slot(Slot& slot, const bool& dead, Args&&... args) {
  Slot cb = std::move(slot);
  struct Restore {
    Slot& slot;
    Slot& cb;
    const bool& dead;
    ~Restore() {
      if (!dead && !slot) slot = std::move(cb);
    }
  } restore{slot, cb, dead};
  return cb(std::forward<Args>(args)...);
}

}  // namespace weft::net
