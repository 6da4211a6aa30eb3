// Worker pools: where blocking work goes.
//
// A Runtime owns two pools of native threads (no process-global state):
//  * the I/O pool (default 4 threads, WEFT_POOL_SIZE or PoolOptions::io_threads) serving
//    two work classes: `fs` (file system calls) and `slow` (DNS, databases, user blocking
//    calls). `slow` may occupy at most about half of the threads, so a burst of slow
//    work cannot starve file I/O;
//  * the `cpu` pool, sized to the cores, for compute offloaded from the loop.
// Threads start on first use. Each class has a bounded queue: a submission past the bound
// fails at once with errc::queue_full and the loop never waits.
//
// queue_work(loop, cls, work, done): `work` runs on a pool thread and must not touch the
// loop or its handles; `done(Result)` runs later on the loop thread that submitted it
// (never inside queue_work). An in-flight job keeps its loop alive.
//
// Cancellation: WorkHandle::cancel() removes a job that has not started; its `done`
// then receives std::errc::operation_canceled (in the next pending phase). A job that has
// started runs to the end: cancel() returns false and `done` gets the result. If the
// submitting loop is destroyed first, queued jobs are dropped and the completions of
// running ones are discarded (their `done` is destroyed without being called).
#pragma once

#include <weft/clock.hpp>
#include <weft/error.hpp>
#include <weft/function.hpp>
#include <weft/histogram.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

class Loop;

enum class WorkClass : unsigned char { fs, slow, cpu };
inline constexpr std::size_t kWorkClassCount = 3;
const char* to_string(WorkClass) noexcept;

// How a pool's threads are scheduled against the loops (Linux scheduling policies).
enum class PoolScheduling : unsigned char {
  normal,  // SCHED_OTHER at the pool's nice value
  batch,   // SCHED_BATCH at the pool's nice value: treated as CPU-bound; its wake-ups never
           // preempt a running thread
  idle,    // SCHED_IDLE: runs on the CPU time no normal thread wants; a loop waking on its
           // core preempts it at once (the nice value no longer matters)
};

struct PoolOptions {
  unsigned io_threads = 0;         // 0: WEFT_POOL_SIZE from the environment, else 4
  unsigned slow_max_running = 0;   // 0: half of io_threads (at least 1)
  unsigned cpu_threads = 0;        // 0: the number of cores
  std::size_t max_queued = 65536;  // per class; past it submissions get queue_full
  // How much lower than the thread that starts them the pools' threads run (nice
  // increment, 0..19; Linux nice values are per thread). When busy pool threads share a
  // core with a loop, the kernel then lets the loop run first, so blocking and CPU-heavy
  // work cannot add to its latency (bench/app: static p99 under full-table scans). When
  // the loop is idle, or cores are free, the pools still get the whole CPU. 0: the same
  // priority as the loop (libuv's threadpool).
  int io_nice = 10;
  int cpu_nice = 10;
  // The cpu pool's policy. idle: compute offloaded from a loop (TLS handshake
  // signatures, offload()) only uses CPU time nothing else wants, so a loop sharing a core
  // with busy cpu-pool threads preempts them at once (nice +10 still lets a running pool
  // thread finish its time slice first: milliseconds of loop lag). Not the default: on a
  // host whose cores other processes keep busy, SCHED_IDLE threads get almost no CPU
  // (weight 3 against nice 0's 1024): measured with builds running beside the server,
  // handshakes on the pool fell to 2/s and keep-alive clients' handshakes timed out
  // (docs/BENCHMARKS.md, TLS of 2026-12-03 23:00). And even on weft's own cores a starved
  // pool thread can hold a lock the loop then waits for (priority inversion): a TLS flood
  // stalled the loop up to 0.5 s in free() on a malloc arena lock the pool thread held
  // (docs/BENCHMARKS.md, "TLS flood with the cpu pool at SCHED_IDLE"). Choose idle only
  // where the offloaded code shares no lock with the loop and the cores are weft's own.
  // The I/O pool is always normal (its jobs mostly block).
  PoolScheduling cpu_scheduling = PoolScheduling::normal;
};

// Counters of one work class; times are totals in nanoseconds.
struct WorkClassStats {
  std::uint64_t queued = 0;     // waiting now
  std::uint64_t running = 0;    // running now
  std::uint64_t completed = 0;  // ran to the end
  std::uint64_t rejected = 0;   // refused with queue_full
  std::uint64_t canceled = 0;   // removed before running
  std::uint64_t queue_wait_ns = 0;
  std::uint64_t run_ns = 0;
  std::uint64_t oldest_queued_ns = 0;  // age of the oldest job waiting now (0: none)
};

// Distributions of one work class: time from submission to start, and run time (ns).
struct WorkClassHistograms {
  HistogramSnapshot queue_wait;
  HistogramSnapshot run;
};

// A job running now on a pool thread, as seen by a watchdog.
struct RunningJob {
  WorkClass cls = WorkClass::fs;
  std::uint64_t seq = 0;        // unique per pool: tells one job from the next on a thread
  const char* label = nullptr;  // queue_work's label (a string that outlives the job)
  Duration running_for{};
};

namespace detail {
class WorkerPool;

// One unit of work in a pool. Reference counted: the pool, the pending completion and a
// WorkHandle may each hold it.
class Job {
 public:
  virtual ~Job() = default;
  virtual void execute() noexcept = 0;            // pool thread
  virtual void complete(std::error_code ec) = 0;  // loop thread; ec: canceled or {}

  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Owned by the pool while the job is queued or running.
  Job* next = nullptr;
  Job* prev = nullptr;
  Loop* loop = nullptr;
  std::shared_ptr<class Inbox> inbox;
  TimePoint queued_at{};
  std::uint64_t seq = 0;
  WorkClass cls = WorkClass::fs;
  const char* label = nullptr;  // for diagnostics; must outlive the job
  enum class State : unsigned char { queued, running, finished, canceled } state = State::queued;
  bool abandoned = false;  // loop thread only: drop the completion when it arrives

 private:
  std::atomic<int> refs_{1};
};

// The old name of Result<T> for pool work; no public signature uses it any more.
template <class T>
using WorkResult = Result<T>;

template <class W, class D>
class FunctionJob final : public Job {
  using Value = std::invoke_result_t<W&>;

 public:
  FunctionJob(W work, D done) : work_(std::move(work)), done_(std::move(done)) {}

  void execute() noexcept override {
    try {
      if constexpr (std::is_void_v<Value>) {
        work_();
        result_.emplace();
      } else {
        result_.emplace(work_());
      }
    } catch (...) {
      result_.emplace(std::current_exception());
    }
  }
  void complete(std::error_code ec) override {
    if (ec) {
      Result<Value> canceled(ec);
      done_(canceled);
    } else {
      done_(*result_);
    }
  }

 private:
  W work_;
  D done_;
  std::optional<Result<Value>> result_;
};

std::error_code submit(Loop& loop, Job* job);
// Loop thread. Removes a queued job (its completion is delivered with operation_canceled).
bool cancel(Job* job) noexcept;
// Loop thread. The completion will not be delivered; a queued job is removed.
void abandon(Job* job) noexcept;
}  // namespace detail

// A reference to a submitted job, for cancel(). Cheap to hold; does not keep the job's
// completion from running.
class WorkHandle {
 public:
  WorkHandle() = default;
  explicit WorkHandle(detail::Job* job) noexcept : job_(job) {
    if (job_) job_->retain();
  }
  WorkHandle(WorkHandle&& o) noexcept : job_(std::exchange(o.job_, nullptr)) {}
  WorkHandle& operator=(WorkHandle&& o) noexcept {
    std::swap(job_, o.job_);
    return *this;
  }
  WorkHandle(const WorkHandle&) = delete;
  WorkHandle& operator=(const WorkHandle&) = delete;
  ~WorkHandle() {
    if (job_) job_->release();
  }
  // Loop thread only. True if the job was removed before it started.
  bool cancel() noexcept { return job_ && detail::cancel(job_); }
  explicit operator bool() const noexcept { return job_ != nullptr; }

 private:
  detail::Job* job_ = nullptr;
};

// Submits work (a callable returning T or void) to class `cls`; done(weft::Result<T>&)
// runs on the loop thread (Result<void> for work returning void). Returns the error
// (queue_full) if the job was refused, in which case neither callable runs. `label` names
// the job for the watchdog and stall reports (a string literal or anything that outlives
// the job).
template <class W, class D>
std::error_code queue_work(Loop& loop, WorkClass cls, W work, D done, WorkHandle* handle = nullptr,
                           const char* label = nullptr) {
  auto* job = new detail::FunctionJob<W, D>(std::move(work), std::move(done));
  job->cls = cls;
  job->label = label;
  if (handle) *handle = WorkHandle(job);
  std::error_code ec = detail::submit(loop, job);
  if (ec) {
    if (handle) *handle = WorkHandle();
    job->release();
  }
  return ec;
}

// The pools. Loops hold it through a shared_ptr; it outlives them.
class Runtime {
 public:
  explicit Runtime(PoolOptions options = {});
  ~Runtime();  // joins the threads after the running jobs end
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  WorkClassStats stats(WorkClass cls) const;
  WorkClassHistograms histograms(WorkClass cls) const;
  // The jobs running now on both pools (any thread).
  std::vector<RunningJob> running_jobs() const;
  unsigned io_threads() const noexcept;
  unsigned cpu_threads() const noexcept;
  const PoolOptions& options() const noexcept { return options_; }

  detail::WorkerPool& pool_for(WorkClass cls) noexcept;

 private:
  PoolOptions options_;
  std::unique_ptr<detail::WorkerPool> io_;
  std::unique_ptr<detail::WorkerPool> cpu_;
};

}  // namespace weft
