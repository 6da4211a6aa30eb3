// CancelSource / CancelToken: user-driven cancellation, std::stop_source-like but
// loop-affine (no atomics, no locks): create, cancel and register on the loop thread.
// Another thread that wants to cancel posts source.cancel() to the loop.
//
//   CancelSource source;
//   co_await sleep(5s, source.token());          // throws operation_canceled on cancel
//   CancelRegistration r = source.token().on_cancel([] { ... });
//   source.cancel();                              // runs r's callback now, once
//
// Design (why an explicit token, and why destruction still cancels):
//  * Drop-cancellation (tokio): every awaiter of weft cancels its operation when it is
//    destroyed. weft's combinators (with_timeout, when_any, when_all) cancel the work they
//    no longer need by destroying its coroutine frame: synchronous, no cooperation
//    needed from the cancelled code, and the resources are released before the combinator
//    returns. That is the "cancelled, not abandoned" guarantee and it costs nothing when
//    nothing is cancelled.
//  * Explicit token (like an Asio cancellation slot, but one token can reach many
//    operations): for cancellation that the user drives from outside, where the
//    cancelled coroutine must keep running to clean up (send an error response, roll
//    back). A token-aware awaiter stops its operation and resumes its coroutine with
//    std::system_error(operation_canceled); the coroutine decides what to do next.
//  * No ambient per-task token: an implicit token would have to be inherited through
//    every Task (a cost on every await, and surprising when a task is handed to another
//    owner), and a forgotten propagation silently breaks cancellation. A parameter is
//    visible in the signature and greppable.
//
// Callbacks registered with on_cancel run synchronously inside cancel(), once, in the
// order they were registered (like std::stop_callback); one registered on an already
// cancelled token runs at once, inside on_cancel. A callback may destroy its own
// registration, others, or the source. Awaiters of weft do not resume their coroutine
// inside cancel(): they stop their operation there and resume it in the loop's pending
// phase (so cancel() never runs user coroutines re-entrantly).
#pragma once

#include <weft/function.hpp>

#include <coroutine>
#include <memory>

namespace weft {

class Loop;
class CancelToken;
class CancelRegistration;

namespace detail {
struct CancelState;
void retain(CancelState* s) noexcept;
void release(CancelState* s) noexcept;
bool is_cancelled(const CancelState* s) noexcept;
}  // namespace detail

// Keeps a callback registered on a token until it is destroyed or detach()ed.
// Not movable: it is linked into the token's list (keep it in the awaiter or frame).
class [[nodiscard]] CancelRegistration {
 public:
  CancelRegistration() noexcept = default;
  CancelRegistration(const CancelToken& token, Function<void()> fn) {
    attach(token, std::move(fn));
  }
  CancelRegistration(const CancelRegistration&) = delete;
  CancelRegistration& operator=(const CancelRegistration&) = delete;
  ~CancelRegistration() { detach(); }

  // Registers fn (detaching a previous registration first). If the token is already
  // cancelled, fn runs now and nothing stays registered. A default token: no-op.
  void attach(const CancelToken& token, Function<void()> fn);
  // Unregisters; fn will not run afterwards. Idempotent.
  void detach() noexcept;
  bool attached() const noexcept { return state_ != nullptr; }

 private:
  friend struct detail::CancelState;
  detail::CancelState* state_ = nullptr;  // holds a reference while attached
  CancelRegistration* prev_ = nullptr;
  CancelRegistration* next_ = nullptr;
  Function<void()> fn_;
};

// A view of a CancelSource. A default-constructed token is never cancelled.
class CancelToken {
 public:
  CancelToken() noexcept = default;
  CancelToken(const CancelToken& o) noexcept : state_(o.state_) {
    if (state_) detail::retain(state_);
  }
  CancelToken(CancelToken&& o) noexcept : state_(o.state_) { o.state_ = nullptr; }
  CancelToken& operator=(CancelToken o) noexcept {
    std::swap(state_, o.state_);
    return *this;
  }
  ~CancelToken() {
    if (state_) detail::release(state_);
  }

  bool cancelled() const noexcept { return detail::is_cancelled(state_); }
  // False for a default token: nothing can ever cancel it (awaiters skip registration).
  bool can_be_cancelled() const noexcept { return state_ != nullptr; }
  // Registers fn to run on cancel (see the file comment). Keep the result alive.
  CancelRegistration on_cancel(Function<void()> fn) const {
    return CancelRegistration(*this, std::move(fn));
  }

 private:
  friend class CancelSource;
  friend class CancelRegistration;
  explicit CancelToken(detail::CancelState* s) noexcept : state_(s) {
    if (state_) detail::retain(state_);
  }
  detail::CancelState* state_ = nullptr;
};

class CancelSource {
 public:
  CancelSource();
  CancelSource(const CancelSource&) = delete;
  CancelSource& operator=(const CancelSource&) = delete;
  ~CancelSource();  // does not cancel: tokens stay uncancelled forever

  CancelToken token() const noexcept { return CancelToken(state_); }
  // Cancels (once; later calls do nothing): runs every registered callback now.
  void cancel();
  bool cancelled() const noexcept { return detail::is_cancelled(state_); }

 private:
  detail::CancelState* state_;
};

namespace detail {

// For awaiters: resumes a coroutine in the loop's pending phase, unless this object is
// destroyed first (the awaiter and its coroutine are gone). Used after a token cancelled
// an operation, so cancel() never resumes coroutines re-entrantly.
class DeferredResume {
 public:
  DeferredResume() noexcept = default;
  DeferredResume(const DeferredResume&) = delete;
  DeferredResume& operator=(const DeferredResume&) = delete;
  ~DeferredResume() {
    if (slot_) *slot_ = nullptr;
  }
  void schedule(Loop& loop, std::coroutine_handle<> h);

 private:
  std::shared_ptr<std::coroutine_handle<>> slot_;
};

}  // namespace detail
}  // namespace weft
