// Handle: the base of every long-lived loop object (timer, signal, I/O watcher,
// phase hooks, sockets). Lifetimes follow libuv's rules, made RAII:
//
//  * A handle is *active* while it is doing something (a started timer, a watched fd).
//    An active handle that is referenced keeps Loop::run() from returning; unref()
//    opts it out (has_ref() tells which).
//  * close(on_close) stops the handle at once and moves it to the *closing* state;
//    on_close runs in the loop's close phase, never inside close(). After that the
//    handle is *closed*: inert, but the object still belongs to its owner.
//  * Destroying a handle in any state stops it synchronously; no callback of it runs
//    afterwards (a pending on_close is dropped).
//  * Loop::close() fails with errc::loop_busy while any handle is open (not closed).
//
// All member functions must be called on the loop's thread.
#pragma once

#include <weft/function.hpp>

namespace weft {

class Loop;
namespace detail {
class LoopCore;
}  // namespace detail

enum class HandleKind {
  timer,
  signal,
  io,
  idle,
  prepare,
  check,
  tcp,
  unix_stream,
  listener,
  other
};
const char* to_string(HandleKind) noexcept;

class Handle {
 public:
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  Loop& loop() const noexcept { return *loop_; }
  HandleKind kind() const noexcept { return kind_; }

  void ref() noexcept;
  void unref() noexcept;
  bool has_ref() const noexcept { return referenced_; }
  bool is_active() const noexcept { return active_; }
  bool is_closing() const noexcept { return state_ == State::closing; }
  bool is_closed() const noexcept { return state_ == State::closed; }

  // Idempotent. Stops the handle now; on_close runs in the close phase.
  void close(Function<void()> on_close = {});

  // A short label used by diagnostics (open-handle listings, the watchdog).
  void set_label(const char* label) noexcept { label_ = label; }
  const char* label() const noexcept { return label_; }

 protected:
  Handle(Loop& loop, HandleKind kind);
  virtual ~Handle();

  // Subclasses stop their activity here (called by close() and before destruction).
  virtual void stop_for_close() noexcept = 0;
  void set_active(bool active) noexcept;
  void assert_loop_thread() const noexcept;
  bool loop_alive() const noexcept { return loop_ != nullptr; }

 private:
  friend class Loop;
  enum class State : unsigned char { open, closing, closed };

  Loop* loop_;
  Handle* prev_ = nullptr;  // the loop's list of all handles (intrusive)
  Handle* next_ = nullptr;
  Handle* next_closing_ = nullptr;
  Function<void()> on_close_;
  const char* label_ = nullptr;
  HandleKind kind_;
  State state_ = State::open;
  bool active_ = false;
  bool referenced_ = true;
};

}  // namespace weft
