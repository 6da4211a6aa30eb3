// Awaitables of the core: sleep, yield, blocking, offload.
//
// Each resumes its coroutine on the loop thread. Each owns its operation: if the awaiting
// coroutine is destroyed while suspended (its Task was dropped, or its loop died), the
// awaiter's destructor cancels the operation — a sleeping timer is stopped, a queued pool
// job is removed before it runs, a running pool job finishes but its result is dropped.
// Errors are thrown (see the error rule in task.hpp).
//
// The forms without a Loop argument use Loop::current(): they must be awaited from code
// running inside Loop::run().
//
// Tokens (cancel.hpp): sleep, blocking and offload take an optional CancelToken. When it
// is cancelled the operation is stopped as on destruction, and the coroutine resumes in
// the pending phase with std::system_error(operation_canceled); a token cancelled
// before the await starts nothing. A running pool job cannot be interrupted, but it can
// poll this_job::stop_requested() and return early; its result is dropped either way.
#pragma once

#include <weft/cancel.hpp>
#include <weft/phase_handle.hpp>
#include <weft/pool.hpp>
#include <weft/task.hpp>
#include <weft/timer.hpp>

#include <atomic>
#include <coroutine>
#include <stdexcept>
#include <system_error>

namespace weft {

inline Loop& current_loop() {
  Loop* loop = Loop::current();
  if (!loop) throw std::logic_error("weft: no loop is running on this thread");
  return *loop;
}

// co_await sleep(d): resumes in the timers phase once d has passed on the loop's clock.
// Cancel safety: nothing to lose; destroyed or cancelled, the timer is stopped.
class SleepAwaiter {
 public:
  SleepAwaiter(Loop& loop, Duration d, CancelToken token = {})
      : timer_(loop), duration_(d), token_(std::move(token)) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (token_.cancelled()) return false;
    timer_.start([h] { h.resume(); }, duration_);
    if (token_.can_be_cancelled()) {
      reg_.attach(token_, [this, h] {
        timer_.stop();
        resume_.schedule(timer_.loop(), h);
      });
    }
    return true;
  }
  void await_resume() {
    reg_.detach();
    if (token_.cancelled()) throw std::system_error(canceled_error());
  }

 private:
  Timer timer_;
  Duration duration_;
  CancelToken token_;
  CancelRegistration reg_;
  detail::DeferredResume resume_;
};

inline SleepAwaiter sleep(Loop& loop, Duration d, CancelToken token = {}) {
  return {loop, d, std::move(token)};
}
inline SleepAwaiter sleep(Duration d, CancelToken token = {}) {
  return {current_loop(), d, std::move(token)};
}

// co_await yield(): lets everything else that is ready run first; resumes in the check
// phase of this iteration (or the next one if awaited from the check phase), like
// `await new Promise(setImmediate)` in Node.
class YieldAwaiter {
 public:
  explicit YieldAwaiter(Loop& loop) : check_(loop) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    check_.start([this, h] {
      check_.stop();
      h.resume();
    });
    check_.loop().set_immediate([] {});  // an empty immediate: the poll phase won't block
  }
  void await_resume() const noexcept {}

 private:
  Check check_;
};

inline YieldAwaiter yield(Loop& loop) { return YieldAwaiter(loop); }
inline YieldAwaiter yield() { return YieldAwaiter(current_loop()); }

namespace detail {
// The stop flag of the pool job running on this thread (null outside blocking jobs).
inline thread_local const std::atomic<bool>* t_job_stop = nullptr;
}  // namespace detail

namespace this_job {
// Inside a function run by blocking()/offload(): true once its awaiter was cancelled or
// destroyed — the result will be dropped, so a long loop may return early. Any thread.
inline bool stop_requested() noexcept {
  return detail::t_job_stop && detail::t_job_stop->load(std::memory_order_relaxed);
}
}  // namespace this_job

namespace detail {

template <class F>
class BlockingJob final : public Job {
 public:
  using Value = std::invoke_result_t<F&>;
  explicit BlockingJob(F fn) : fn_(std::move(fn)) {}

  void execute() noexcept override {
    const std::atomic<bool>* outer = std::exchange(t_job_stop, &stop_);
    try {
      if constexpr (std::is_void_v<Value>) {
        fn_();
        result_.emplace();
      } else {
        result_.emplace(fn_());
      }
    } catch (...) {
      result_.emplace(std::current_exception());
    }
    t_job_stop = outer;
  }
  void complete(std::error_code ec) override {
    if (ec) result_.emplace(ec);
    completed_ = true;
    waiter_.resume();
  }

  F fn_;
  std::optional<Result<Value>> result_;
  std::coroutine_handle<> waiter_;
  std::atomic<bool> stop_{false};
  bool completed_ = false;
};

}  // namespace detail

// co_await blocking(fn, cls, token): runs fn() on the pool class `cls` (default: slow)
// and resumes on the loop with its value, or rethrows its exception. Throws
// std::system_error(errc::queue_full) if the pool refused the job.
// Cancel safety (nothing is lost but the result): destroyed, a queued job is removed and
// a running one is told to stop (this_job::stop_requested()) and its result dropped.
// Cancelled by the token, a queued job is removed and the await throws operation_canceled
// in the pending phase; a running job is told to stop and the await throws
// operation_canceled once it has returned (fn may reference the awaiting frame, so the
// frame is not resumed while fn still runs).
template <class F>
class BlockingAwaiter {
  using Job = detail::BlockingJob<F>;
  using Value = typename Job::Value;

 public:
  BlockingAwaiter(Loop& loop, F fn, WorkClass cls, CancelToken token = {})
      : loop_(loop), job_(new Job(std::move(fn))), token_(std::move(token)) {
    job_->cls = cls;
  }
  // Movable before it is awaited (a combinator may take it by value).
  BlockingAwaiter(BlockingAwaiter&& o) noexcept
      : loop_(o.loop_),
        job_(std::exchange(o.job_, nullptr)),
        token_(std::move(o.token_)),
        submit_error_(o.submit_error_) {}
  BlockingAwaiter(const BlockingAwaiter&) = delete;
  BlockingAwaiter& operator=(const BlockingAwaiter&) = delete;
  // Replaces the token; before the await only (fs::Op::with_token).
  void set_token(CancelToken token) noexcept { token_ = std::move(token); }
  ~BlockingAwaiter() {
    if (!job_) return;
    if (submitted_ && !job_->completed_) {
      job_->stop_.store(true, std::memory_order_relaxed);
      detail::abandon(job_);
    }
    job_->release();
  }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    if (token_.cancelled()) {
      submit_error_ = canceled_error();
      return false;
    }
    job_->waiter_ = h;
    job_->retain();  // the pool's reference; ours stays with the awaiter
    submit_error_ = detail::submit(loop_, job_);
    if (submit_error_) {
      job_->release();
      return false;  // resume at once: await_resume throws
    }
    submitted_ = true;
    if (token_.can_be_cancelled()) reg_.attach(token_, [this] { on_cancel(); });
    return true;
  }
  Value await_resume() {
    reg_.detach();
    if (submit_error_) throw std::system_error(submit_error_);
    if (cancelled_) throw std::system_error(canceled_error());
    if constexpr (std::is_void_v<Value>) {
      job_->result_->value();
    } else {
      return std::move(*job_->result_).value();
    }
  }

 private:
  // A queued job is removed (its completion, operation_canceled, resumes us in the
  // pending phase); a running one is asked to stop and completes when fn returns.
  void on_cancel() {
    cancelled_ = true;
    job_->stop_.store(true, std::memory_order_relaxed);
    detail::cancel(job_);
  }

  Loop& loop_;
  Job* job_;
  CancelToken token_;
  CancelRegistration reg_;
  std::error_code submit_error_;
  bool submitted_ = false;
  bool cancelled_ = false;
};

template <class F>
BlockingAwaiter<F> blocking(Loop& loop, F fn, WorkClass cls = WorkClass::slow,
                            CancelToken token = {}) {
  return BlockingAwaiter<F>(loop, std::move(fn), cls, std::move(token));
}
template <class F>
BlockingAwaiter<F> blocking(F fn, WorkClass cls = WorkClass::slow, CancelToken token = {}) {
  return BlockingAwaiter<F>(current_loop(), std::move(fn), cls, std::move(token));
}

// co_await offload(fn, token): blocking(fn) on the cpu pool — compute kept off the loop.
template <class F>
BlockingAwaiter<F> offload(Loop& loop, F fn, CancelToken token = {}) {
  return BlockingAwaiter<F>(loop, std::move(fn), WorkClass::cpu, std::move(token));
}
template <class F>
BlockingAwaiter<F> offload(F fn, CancelToken token = {}) {
  return BlockingAwaiter<F>(current_loop(), std::move(fn), WorkClass::cpu, std::move(token));
}

}  // namespace weft
