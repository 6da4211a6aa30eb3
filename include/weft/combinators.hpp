// Combinators over Tasks and weft's awaitables: with_timeout, with_cancel, when_all,
// when_any.
//
//   int n = co_await with_timeout(2s, stream.read_some(buf));   // throws timed_out
//   auto [a, b] = co_await when_all(fetch(x), fetch(y));        // std::tuple
//   auto r = co_await when_any(read_line(s), sleep(1s));        // r.index(): the winner
//
// Each operand runs in its own child coroutine, started in argument order when the
// combinator is awaited (one after the other, each until its first suspension). Work the
// combinator no longer needs is cancelled by destroying its child frame: that destroys
// the operand (a Task's frame, transitively everything it awaits) and with it each
// pending awaiter of weft, which cancels its operation (a timer is stopped, a queued job
// removed, a read stopped). So losers are cancelled and gone before the combinator
// resumes its caller: no timer, job or handle outlives it (drop-cancellation, as tokio's
// select!; see cancel.hpp for why weft combines it with explicit tokens). A cancelled
// operand's code never runs again: cleanup belongs in destructors.
//
// Cancellation order is deterministic: the operands still pending are destroyed in
// argument order. An operand that completes synchronously (never suspends) completes
// during the start; a later operand then is not started at all if it is not needed.
//
// Operands: a Task (by value or an lvalue Task&), or any awaitable (an object with
// await_ready/suspend/resume, or operator co_await). A movable rvalue operand is moved
// into the child; a non-movable one (sleep(d), yield()) is awaited in place: co_await the
// combinator in the same full expression that creates it (the usual
// `co_await with_timeout(d, sleep(x))`). A void result is reported as std::monostate.
// Results must be movable (a net::Stream is not: connect and accept take a timeout or
// token instead).
//
// Limitation: a combinator cannot cancel a child coroutine that is running at that
// moment, so an operand must not synchronously resume a sibling operand (weft's
// awaitables never do; a user-made event that resumes waiters inline could).
#pragma once

#include <weft/async.hpp>
#include <weft/cancel.hpp>
#include <weft/error.hpp>
#include <weft/task.hpp>
#include <weft/timer.hpp>

#include <array>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace weft {
namespace detail {

template <class A>
decltype(auto) get_awaiter(A&& a) {
  if constexpr (requires { static_cast<A&&>(a).operator co_await(); }) {
    return static_cast<A&&>(a).operator co_await();
  } else {
    return static_cast<A&&>(a);
  }
}

template <class A>
using await_result_t = decltype(get_awaiter(std::declval<A>()).await_resume());

template <class T>
using result_slot_t = std::conditional_t<std::is_void_v<T>, std::monostate, std::remove_cvref_t<T>>;

// How a child keeps its operand: an lvalue by reference, a movable rvalue by value, a
// non-movable rvalue by reference (it lives in the caller's full expression).
template <class A>
using stored_operand_t =
    std::conditional_t<std::is_lvalue_reference_v<A>, A,
                       std::conditional_t<std::is_move_constructible_v<std::remove_cvref_t<A>>,
                                          std::remove_cvref_t<A>, std::remove_cvref_t<A>&&>>;

// Told when a child finishes; returns the coroutine to transfer to.
class ChildSink {
 public:
  virtual std::coroutine_handle<> child_done(std::size_t index) noexcept = 0;

 protected:
  ~ChildSink() = default;
};

// The frame that awaits one operand. It never throws (the body catches everything) and
// reports to its sink at its final suspension; its owner destroys it.
class ChildTask {
 public:
  struct promise_type {
    ChildSink* sink = nullptr;
    std::size_t index = 0;
    ChildTask get_return_object() noexcept {
      return ChildTask(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct Final {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        return h.promise().sink->child_done(h.promise().index);
      }
      void await_resume() noexcept {}
    };
    Final final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };

  ChildTask() noexcept = default;
  explicit ChildTask(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  ChildTask(ChildTask&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  ChildTask& operator=(ChildTask&& o) noexcept {
    reset();
    h_ = std::exchange(o.h_, {});
    return *this;
  }
  ~ChildTask() { reset(); }

  // Runs the child until its first suspension (or to its end).
  void start(ChildSink* sink, std::size_t index) {
    h_.promise().sink = sink;
    h_.promise().index = index;
    h_.resume();
  }
  // Destroys the frame: a suspended operand is cancelled.
  void reset() noexcept {
    if (h_) std::exchange(h_, {}).destroy();
  }

 private:
  std::coroutine_handle<promise_type> h_;
};

template <class T>
struct ChildSlot {
  std::optional<result_slot_t<T>> value;
  std::exception_ptr error;
};

template <class S, class T>
ChildTask run_child(S operand, ChildSlot<T>* slot) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await static_cast<S&&>(operand);
      slot->value.emplace();
    } else {
      slot->value.emplace(co_await static_cast<S&&>(operand));
    }
  } catch (...) {
    slot->error = std::current_exception();
  }
}

template <class A>
ChildTask make_child(A&& operand, ChildSlot<await_result_t<stored_operand_t<A>&&>>* slot) {
  using S = stored_operand_t<A>;
  return run_child<S, await_result_t<S&&>>(static_cast<A&&>(operand), slot);
}

// The common part of when_all and when_any: N children, started in order.
template <class... A>
class Children : protected ChildSink {
 protected:
  static constexpr std::size_t N = sizeof...(A);
  using Slots = std::tuple<ChildSlot<await_result_t<stored_operand_t<A>&&>>...>;

  explicit Children(A&&... operands)
      : Children(std::index_sequence_for<A...>{}, static_cast<A&&>(operands)...) {}
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children() { cancel_all_but(N); }

  // Starts the children in order until `stop()` holds. True if the caller must suspend.
  template <class Stop>
  bool start_all(std::coroutine_handle<> parent, Stop stop) {
    parent_ = parent;
    starting_ = true;
    for (std::size_t i = 0; i < N && !stop(); ++i) children_[i].start(this, i);
    starting_ = false;
    return !stop();
  }
  // Destroys every child except `keep`, in argument order.
  void cancel_all_but(std::size_t keep) noexcept {
    for (std::size_t i = 0; i < N; ++i) {
      if (i != keep) children_[i].reset();
    }
  }
  std::coroutine_handle<> resume_parent() noexcept {
    return starting_ ? std::noop_coroutine() : parent_;
  }

  Slots slots_;
  std::array<ChildTask, N> children_;
  std::coroutine_handle<> parent_;
  bool starting_ = false;

 private:
  template <std::size_t... I>
  Children(std::index_sequence<I...>, A&&... operands)
      : children_{make_child(static_cast<A&&>(operands), &std::get<I>(slots_))...} {}
};

template <class... A>
class [[nodiscard]] WhenAllAwaiter final : Children<A...> {
  using Base = Children<A...>;
  using Base::N;

 public:
  using Result = std::tuple<result_slot_t<await_result_t<stored_operand_t<A>&&>>...>;
  explicit WhenAllAwaiter(A&&... operands) : Base(static_cast<A&&>(operands)...) {}

  bool await_ready() const noexcept { return N == 0; }
  bool await_suspend(std::coroutine_handle<> h) {
    const bool suspend = this->start_all(h, [this] { return failed_ || pending_ == 0; });
    if (failed_) this->cancel_all_but(failed_index_);
    return suspend;
  }
  Result await_resume() {
    if (failed_) rethrow(std::index_sequence_for<A...>{});
    return take(std::index_sequence_for<A...>{});
  }

 private:
  std::coroutine_handle<> child_done(std::size_t index) noexcept override {
    --pending_;
    if (!failed_ && has_error(index, std::index_sequence_for<A...>{})) {
      failed_ = true;
      failed_index_ = index;
      if (!this->starting_) this->cancel_all_but(index);
      return this->resume_parent();
    }
    return pending_ == 0 ? this->resume_parent() : std::noop_coroutine();
  }
  template <std::size_t... I>
  bool has_error(std::size_t index, std::index_sequence<I...>) const noexcept {
    return ((I == index && std::get<I>(this->slots_).error) || ...);
  }
  template <std::size_t... I>
  void rethrow(std::index_sequence<I...>) {
    ((I == failed_index_ ? std::rethrow_exception(std::get<I>(this->slots_).error) : void()), ...);
  }
  template <std::size_t... I>
  Result take(std::index_sequence<I...>) {
    return Result(std::move(*std::get<I>(this->slots_).value)...);
  }

  std::size_t pending_ = N;
  std::size_t failed_index_ = 0;
  bool failed_ = false;
};

template <class... A>
class [[nodiscard]] WhenAnyAwaiter final : Children<A...> {
  using Base = Children<A...>;
  using Base::N;
  static_assert(N > 0, "when_any needs at least one operand");

 public:
  using Result = std::variant<result_slot_t<await_result_t<stored_operand_t<A>&&>>...>;
  explicit WhenAnyAwaiter(A&&... operands) : Base(static_cast<A&&>(operands)...) {}

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    const bool suspend = this->start_all(h, [this] { return winner_ < N; });
    if (winner_ < N) this->cancel_all_but(winner_);
    return suspend;
  }
  // The winner's value, or its exception rethrown.
  Result await_resume() { return take(std::index_sequence_for<A...>{}); }

 private:
  std::coroutine_handle<> child_done(std::size_t index) noexcept override {
    if (winner_ < N) return std::noop_coroutine();  // cannot happen: losers are destroyed
    winner_ = index;
    if (!this->starting_) this->cancel_all_but(index);
    return this->resume_parent();
  }
  template <std::size_t I>
  void take_one(std::optional<Result>& out) {
    auto& slot = std::get<I>(this->slots_);
    if (slot.error) std::rethrow_exception(slot.error);
    out.emplace(std::in_place_index<I>, std::move(*slot.value));
  }
  template <std::size_t... I>
  Result take(std::index_sequence<I...>) {
    std::optional<Result> out;
    ((I == winner_ ? take_one<I>(out) : void()), ...);
    return std::move(*out);
  }

  std::size_t winner_ = N;
};

// with_timeout and with_cancel: one operand run as a child, and a guard (a timer, a token
// registration) that, when it fires first, destroys the child and resumes the caller with
// the guard's error. The guard decides how the caller resumes (a timer callback resumes it
// directly; a token's callback runs inside cancel(), so it resumes later, deferred).
template <class A, class Guard>
class [[nodiscard]] GuardedAwaiter final : ChildSink {
  using S = stored_operand_t<A>;
  using T = await_result_t<S&&>;

 public:
  template <class... G>
  explicit GuardedAwaiter(A&& operand, G&&... guard)
      : guard_(static_cast<G&&>(guard)...), child_(make_child(static_cast<A&&>(operand), &slot_)) {}
  GuardedAwaiter(const GuardedAwaiter&) = delete;
  GuardedAwaiter& operator=(const GuardedAwaiter&) = delete;
  ~GuardedAwaiter() { child_.reset(); }

  bool await_ready() const noexcept { return guard_.fired_already(); }
  bool await_suspend(std::coroutine_handle<> h) {
    parent_ = h;
    starting_ = true;
    child_.start(this, 0);
    starting_ = false;
    if (finished_) return false;
    guard_.arm([this]() noexcept {
      fired_ = true;
      child_.reset();  // cancels the operand before the caller resumes
      return parent_;
    });
    return true;
  }
  result_slot_t<T> await_resume() {
    guard_.disarm();
    if (fired_ || (!finished_ && guard_.fired_already())) throw std::system_error(guard_.error());
    if (slot_.error) std::rethrow_exception(slot_.error);
    if constexpr (std::is_void_v<T>) {
      return std::monostate{};
    } else {
      return std::move(*slot_.value);
    }
  }

 private:
  std::coroutine_handle<> child_done(std::size_t) noexcept override {
    finished_ = true;
    if (starting_) return std::noop_coroutine();
    guard_.disarm();
    return parent_;
  }

  ChildSlot<T> slot_;
  Guard guard_;
  ChildTask child_;
  std::coroutine_handle<> parent_;
  bool starting_ = false, finished_ = false, fired_ = false;
};

// The deadline on the loop's clock; the timer's callback resumes the caller.
class TimeoutGuard {
 public:
  TimeoutGuard(Loop& loop, Duration d) : timer_(loop), duration_(d) {}
  bool fired_already() const noexcept { return false; }
  template <class Fire>
  void arm(Fire fire) {
    timer_.start([fire]() mutable { fire().resume(); }, duration_);
  }
  void disarm() noexcept { timer_.stop(); }
  static std::error_code error() noexcept { return std::make_error_code(std::errc::timed_out); }

 private:
  Timer timer_;
  Duration duration_;
};

// The token: it fires inside cancel(), so the caller resumes in the pending phase.
class CancelGuard {
 public:
  CancelGuard(Loop& loop, CancelToken token) : loop_(loop), token_(std::move(token)) {}
  bool fired_already() const noexcept { return token_.cancelled(); }
  template <class Fire>
  void arm(Fire fire) {
    reg_.attach(token_, [this, fire]() mutable { resume_.schedule(loop_, fire()); });
  }
  void disarm() noexcept { reg_.detach(); }
  static std::error_code error() noexcept { return canceled_error(); }

 private:
  Loop& loop_;
  CancelToken token_;
  CancelRegistration reg_;
  DeferredResume resume_;
};

template <class A>
using TimeoutAwaiter = GuardedAwaiter<A, TimeoutGuard>;
template <class A>
using CancelAwaiter = GuardedAwaiter<A, CancelGuard>;

}  // namespace detail

// co_await with_cancel(token, operand): gives any awaitable a token — fs, DNS, db, a Task
// — without a parameter of its own. The operand's value or exception; once the token is
// cancelled, the operand is destroyed inside cancel() (its operation cancelled as on any
// drop) and the caller resumes in the pending phase with
// std::system_error(operation_canceled). A token already cancelled: the operand never
// starts. Cancel safety is the operand's.
template <class A>
detail::CancelAwaiter<A> with_cancel(Loop& loop, CancelToken token, A&& operand) {
  return detail::CancelAwaiter<A>(static_cast<A&&>(operand), loop, std::move(token));
}
template <class A>
detail::CancelAwaiter<A> with_cancel(CancelToken token, A&& operand) {
  return detail::CancelAwaiter<A>(static_cast<A&&>(operand), current_loop(), std::move(token));
}

// co_await with_timeout(d, operand): the operand's value (std::monostate for void), its exception,
// or std::system_error(errc::timed_out) once d has passed on the loop's clock — the
// operand is then cancelled (destroyed) before with_timeout resumes its caller. Cancel
// safety is the operand's own (see each awaitable): a cancelled read_some has consumed
// nothing, a cancelled write_all may have queued a prefix.
template <class A>
detail::TimeoutAwaiter<A> with_timeout(Loop& loop, Duration d, A&& operand) {
  return detail::TimeoutAwaiter<A>(static_cast<A&&>(operand), loop, d);
}
template <class A>
detail::TimeoutAwaiter<A> with_timeout(Duration d, A&& operand) {
  return detail::TimeoutAwaiter<A>(static_cast<A&&>(operand), current_loop(), d);
}

// co_await when_all(a, b, ...): a std::tuple of every result, once all have completed.
// The first exception (in completion order) cancels the others (in argument order) and
// is rethrown; the other results are dropped.
template <class... A>
detail::WhenAllAwaiter<A...> when_all(A&&... operands) {
  return detail::WhenAllAwaiter<A...>(static_cast<A&&>(operands)...);
}

// co_await when_any(a, b, ...): a std::variant whose index() is the operand that completed
// first, holding its value; if that operand threw, its exception is rethrown instead. The
// others are cancelled (in argument order) before when_any resumes its caller.
template <class... A>
detail::WhenAnyAwaiter<A...> when_any(A&&... operands) {
  return detail::WhenAnyAwaiter<A...>(static_cast<A&&>(operands)...);
}

}  // namespace weft
