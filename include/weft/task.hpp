// Task<T>: a lazy, move-only coroutine with symmetric transfer.
//
// A Task does nothing until it is awaited (co_await task) or spawned. When it finishes,
// control transfers straight to its awaiter (no trampolining through the loop, no stack
// growth). Its result is returned from co_await; an exception escaping the task is
// rethrown there.
//
// spawn(loop, task) starts a task detached, as the first microtask of the loop (never
// inside spawn()). An exception escaping a spawned task is handed to the loop's uncaught
// exception handler: never silently lost. A spawned task that is still suspended when
// its loop is destroyed is destroyed with it (its awaiters cancel their operations).
//
// Error rule of the coroutine API: awaitables return values and report failure by
// throwing — std::system_error for an error code (cancellation is
// std::errc::operation_canceled), or the original exception of user work. The callback
// API reports failure with a value instead: weft::Result (error.hpp).
#pragma once

#include <weft/loop.hpp>

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace weft {

template <class T = void>
class Task;

namespace detail {

struct PromiseBase {
  std::coroutine_handle<> continuation = std::noop_coroutine();
  std::exception_ptr exception;

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      return h.promise().continuation;
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
  void rethrow_if_failed() const {
    if (exception) std::rethrow_exception(exception);
  }
};

template <class T>
struct Promise final : PromiseBase {
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  template <class U = T>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() {
    rethrow_if_failed();
    return std::move(*value);
  }
};

template <>
struct Promise<void> final : PromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take() const { rethrow_if_failed(); }
};

}  // namespace detail

template <class T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::Promise<T>;
  using Handle = std::coroutine_handle<promise_type>;

  Task() noexcept = default;
  explicit Task(Handle h) noexcept : h_(h) {}
  Task(Task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (h_) h_.destroy();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }
  bool done() const noexcept { return h_ && h_.done(); }

  struct Awaiter {
    Handle h;
    bool await_ready() const noexcept { return !h || h.done(); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
      h.promise().continuation = awaiting;
      return h;  // symmetric transfer: start the task without growing the stack
    }
    T await_resume() { return h.promise().take(); }
  };
  Awaiter operator co_await() && noexcept { return Awaiter{h_}; }
  Awaiter operator co_await() & noexcept { return Awaiter{h_}; }

 private:
  Handle h_;
};

namespace detail {

template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

// The detached root frame of a spawned task; it destroys itself when it finishes.
struct SpawnedRoot {
  struct promise_type {
    Loop* loop = nullptr;
    void* node = nullptr;  // the loop's registration of this frame (detail::SpawnedNode)
    SpawnedRoot get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { loop->report_uncaught(std::current_exception()); }
    ~promise_type();
  };
  std::coroutine_handle<promise_type> h;
};

void register_spawned(Loop& loop, std::coroutine_handle<SpawnedRoot::promise_type> h);

template <class T>
SpawnedRoot spawn_root(Task<T> task) {
  co_await std::move(task);
}

template <class F>
SpawnedRoot spawn_root_fn(F fn) {
  co_await fn();  // fn lives in this frame, so a lambda's captures outlive the task
}

}  // namespace detail

// Starts `task` detached on `loop` (loop thread only).
template <class T>
void spawn(Loop& loop, Task<T> task) {
  detail::register_spawned(loop, detail::spawn_root(std::move(task)).h);
}

// Starts the task returned by fn() detached; fn (a lambda and its captures) is kept
// alive for as long as the task runs. Prefer this for coroutine lambdas with captures.
template <class F>
  requires std::is_invocable_v<F&>
void spawn(Loop& loop, F fn) {
  detail::register_spawned(loop, detail::spawn_root_fn(std::move(fn)).h);
}

// Runs the loop until `task` completes and returns its result (or rethrows). For main()
// and tests. Other loop work keeps running meanwhile; if the loop runs out of work before
// the task completes, throws std::logic_error (the task waits on something that can
// never happen).
template <class T>
T run_until_complete(Loop& loop, Task<T> task) {
  std::optional<std::conditional_t<std::is_void_v<T>, std::monostate, T>> value;
  std::exception_ptr error;
  bool finished = false;
  spawn(loop, [&]() -> Task<void> {
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(task);
        value.emplace();
      } else {
        value.emplace(co_await std::move(task));
      }
    } catch (...) {
      error = std::current_exception();
    }
    finished = true;
    loop.stop();
  });
  loop.run();
  if (!finished) throw std::logic_error("weft: the loop ran out of work before the task finished");
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) return std::move(*value);
}

}  // namespace weft
