// on_loop(home, work): runs `work` on another loop and resumes the caller on its own.
//
//   std::string doc = co_await weft::on_loop(home_loop, [=, &store] { return store.create(...); });
//   int n = co_await weft::on_loop(worker.loop(), [] { return 6 * 7; });
//
// `work` returns a Task<T> (awaited on `home`) or a plain T; it is called on `home`
// (posted there, so never inside the call) and its value or exception comes back to the
// awaiting coroutine on the loop it awaited from. The caller's loop is kept alive (Loop::KeepAlive)
// until the answer has arrived, so it cannot be destroyed while `home` still has an answer to post;
// the home loop must outlive the call (weft-serve joins its worker loops before loop 0 ends).
// Cancellation: if the awaiting coroutine is destroyed first, the work still runs to its
// end on `home` (a write stays a whole write) and its answer is dropped.
#pragma once

#include <weft/function.hpp>
#include <weft/loop.hpp>
#include <weft/task.hpp>

#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace weft {

template <class T>
class [[nodiscard]] OnLoop {
 public:
  OnLoop(Loop& home, Function<Task<T>()> work) : home_(home), work_(std::move(work)) {}
  OnLoop(OnLoop&&) noexcept = default;
  ~OnLoop() {
    if (state_) state_->waiter = nullptr;  // on the caller's loop, like the resumption
  }

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    Loop& origin = *Loop::current();
    state_ = std::make_shared<State>();
    state_->waiter = h;
    state_->keep = Loop::KeepAlive(origin);
    home_.post([&home = home_, &origin, s = state_, work = std::move(work_)]() mutable {
      spawn(home, run(std::move(s), std::move(work), origin));
    });
  }
  T await_resume() {
    if (state_->error) std::rethrow_exception(state_->error);
    return std::move(*state_->value);
  }

 private:
  struct State {
    std::optional<T> value;
    std::exception_ptr error;
    std::coroutine_handle<> waiter;
    Loop::KeepAlive keep;
  };

  static Task<void> run(std::shared_ptr<State> s, Function<Task<T>()> work, Loop& origin) {
    // (The co_await stands alone: GCC 12 miscompiles it inside a call's arguments.)
    try {
      Task<T> task = work();
      T value = co_await std::move(task);
      s->value.emplace(std::move(value));
    } catch (...) {
      s->error = std::current_exception();
    }
    origin.post([s] {
      Loop::KeepAlive keep = std::move(s->keep);  // released after the resumption
      if (s->waiter) std::exchange(s->waiter, nullptr).resume();
    });
  }

  Loop& home_;
  Function<Task<T>()> work_;
  std::shared_ptr<State> state_;
};

namespace detail {
template <class R>
struct IsTask : std::false_type {};
template <class T>
struct IsTask<Task<T>> : std::true_type {};
}  // namespace detail

template <class F>
auto on_loop(Loop& home, F work) {
  using R = std::invoke_result_t<F&>;
  if constexpr (detail::IsTask<R>::value) {
    using T = decltype(std::declval<R&>().operator co_await().await_resume());
    return OnLoop<T>(home, Function<R()>(std::move(work)));
  } else {  // a plain function: its value as a Task, on `home`
    return OnLoop<R>(
        home, Function<Task<R>()>([f = std::move(work)]() mutable -> Task<R> { co_return f(); }));
  }
}

}  // namespace weft
