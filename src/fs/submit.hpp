// How weft::fs puts a blocking operation on the pool: the coroutine form (an Op<T>, which
// owns a BlockingAwaiter) and the callback form (a CallbackJob). Both run `work` — a
// callable returning Outcome<T> — on WorkClass::fs, with std::bad_alloc turned into
// ENOMEM so that no exception leaves a job.
#pragma once

#include "fs/ops.hpp"

#include <weft/loop.hpp>
#include <weft/pool.hpp>

#include <new>
#include <optional>

namespace weft::fs::detail {

// Wraps work so that it never throws.
template <class T, class W>
struct Guarded {
  W work;
  const char* op;
  Outcome<T> operator()() noexcept {
    try {
      return work();
    } catch (...) {  // only allocation can fail here; no path: it would allocate too
      return Outcome<T>(ErrorInfo{std::make_error_code(std::errc::not_enough_memory), op, {}, {}});
    }
  }
};

template <class T, class W>
Op<T> make_op(Loop& loop, const char* op, std::string path, W work) {
  return Op<T>(loop, typename Op<T>::Work(Guarded<T, W>{std::move(work), op}), op, std::move(path));
}

// The callback form's job: runs the guarded work, then hands the Outcome to the callback
// on the loop (or operation_canceled if the job was removed before it ran).
template <class T, class W>
class CallbackJob final : public weft::detail::Job {
 public:
  CallbackJob(W work, Callback<T> cb, const char* op, std::string path)
      : work_{std::move(work), op}, cb_(std::move(cb)), op_(op), path_(std::move(path)) {}

  void execute() noexcept override { out_.emplace(work_()); }
  void complete(std::error_code ec) override {
    if (ec) out_.emplace(ErrorInfo{ec, op_, std::move(path_), {}});
    cb_(*out_);
  }
  Callback<T> take_callback() noexcept { return std::move(cb_); }

 private:
  Guarded<T, W> work_;
  Callback<T> cb_;
  const char* op_;
  std::string path_;
  std::optional<Outcome<T>> out_;
};

// Submits the callback form. A refused job (queue_full) is reported to the callback in
// the next pending phase — never inside this call — and the returned handle is empty.
template <class T, class W>
WorkHandle submit_callback(Loop& loop, const char* op, std::string path, W work, Callback<T> cb) {
  auto* job = new CallbackJob<T, W>(std::move(work), std::move(cb), op, path);
  job->cls = WorkClass::fs;
  WorkHandle handle(job);
  if (std::error_code ec = weft::detail::submit(loop, job)) {
    loop.defer([cb = job->take_callback(),
                out = Outcome<T>(ErrorInfo{ec, op, std::move(path), {}})]() mutable { cb(out); });
    job->release();
    return WorkHandle();
  }
  return handle;  // the job's initial reference now belongs to the pool
}

}  // namespace weft::fs::detail
