#include "core/worker_pool.hpp"

#include "core/inbox.hpp"

#include <weft/loop.hpp>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace weft {

const char* to_string(WorkClass cls) noexcept {
  switch (cls) {
    case WorkClass::fs:
      return "fs";
    case WorkClass::slow:
      return "slow";
    case WorkClass::cpu:
      return "cpu";
  }
  return "?";
}

namespace detail {
namespace {

std::uint64_t nanos_between(TimePoint a, TimePoint b) noexcept {
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, (b - a).count()));
}

TimePoint real_now() noexcept { return std::chrono::steady_clock::now(); }

}  // namespace

WorkerPool::WorkerPool(const char* name, unsigned threads, const std::vector<ClassLimit>& classes,
                       std::size_t max_queued, int nice, PoolScheduling scheduling)
    : name_(name),
      max_queued_(max_queued),
      thread_count_(std::max(1u, threads)),
      nice_(std::clamp(nice, 0, 19)),
      scheduling_(scheduling) {
  for (const ClassLimit& c : classes) {
    ClassQueue& q = queue(c.cls);
    q.served = true;
    q.max_running = std::clamp(c.max_running, 1u, thread_count_);
  }
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  for (ClassQueue& q : queues_) {  // loops outlive nothing here: jobs left are orphans
    while (Job* job = q.head) {
      unlink_locked(q, job);
      job->release();
    }
  }
}

void WorkerPool::start_threads() {
  // Pool threads never run signal handlers: signals belong to the loops.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  slots_.resize(thread_count_);
  for (unsigned i = 0; i < thread_count_; ++i) {
    threads_.emplace_back([this, i] { worker_main(i); });
    std::string thread_name = std::string("weft-") + name_;
    pthread_setname_np(threads_.back().native_handle(), thread_name.substr(0, 15).c_str());
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// Threads are not woken here but in flush_wakes(), which the loop calls right before it
// polls: a burst of submissions then costs one signal per idle thread needed, not one
// per job. A job submitted early in a long callback starts when that iteration polls.
std::error_code WorkerPool::submit(Job* job) {
  {
    std::lock_guard lock(mu_);
    ClassQueue& q = queue(job->cls);
    if (q.stats.queued >= max_queued_) {
      ++q.stats.rejected;
      return make_error_code(errc::queue_full);
    }
    if (threads_.empty()) start_threads();
    job->seq = ++seq_;
    job->state = Job::State::queued;
    job->next = nullptr;
    job->prev = q.tail;
    (q.tail ? q.tail->next : q.head) = job;
    q.tail = job;
    ++q.stats.queued;
    deferred_.store(true, std::memory_order_relaxed);
  }
  return {};
}

void WorkerPool::flush_wakes() noexcept {
  if (!deferred_.load(std::memory_order_relaxed)) return;
  unsigned n = 0;
  {
    std::lock_guard lock(mu_);
    deferred_.store(false, std::memory_order_relaxed);
    std::uint64_t queued = 0;
    for (ClassQueue& q : queues_) queued += q.stats.queued;
    unsigned free = idle_ > wakes_pending_ ? idle_ - wakes_pending_ : 0;
    // A thread handing back a completion looks at the queue right after: no wake-up for it.
    queued -= std::min<std::uint64_t>(queued, returning_);
    n = static_cast<unsigned>(std::min<std::uint64_t>(free, queued));
    wakes_pending_ += n;
  }
  for (unsigned i = 0; i < n; ++i) cv_.notify_one();
}

void WorkerPool::unlink_locked(ClassQueue& q, Job* job) noexcept {
  (job->prev ? job->prev->next : q.head) = job->next;
  (job->next ? job->next->prev : q.tail) = job->prev;
  job->next = job->prev = nullptr;
  --q.stats.queued;
}

Job* WorkerPool::take_next_locked() {
  ClassQueue* best = nullptr;
  for (ClassQueue& q : queues_) {
    if (!q.head || q.stats.running >= q.max_running) continue;
    if (!best || q.head->seq < best->head->seq) best = &q;
  }
  if (!best) return nullptr;
  Job* job = best->head;
  unlink_locked(*best, job);
  ++best->stats.running;
  job->state = Job::State::running;
  return job;
}

// One lock round per job: the finished job's counters are updated under the same lock
// that takes the next job, and its completion is handed to its loop right after — before
// the next job runs, and after the counters, so a loop that sees the completion also sees
// them.
// Lowers the calling thread's priority by `by` (a failure leaves it as it was: the pool
// works the same, only without the preference for the loop).
static void lower_thread_priority(int by) noexcept {
  if (by <= 0) return;
  const auto tid = static_cast<id_t>(::gettid());
  errno = 0;
  const int current = ::getpriority(PRIO_PROCESS, tid);
  if (errno == 0) (void)::setpriority(PRIO_PROCESS, tid, std::min(current + by, 19));
}

// Puts the calling thread under `s` (PoolOptions::cpu_scheduling). Lowering a thread to
// SCHED_BATCH or SCHED_IDLE needs no privilege; a failure leaves it under SCHED_OTHER.
static void set_thread_scheduling(PoolScheduling s) noexcept {
  if (s == PoolScheduling::normal) return;
  sched_param param{};
  param.sched_priority = 0;  // the only value these policies take
  const int policy = s == PoolScheduling::idle ? SCHED_IDLE : SCHED_BATCH;
  (void)::pthread_setschedparam(::pthread_self(), policy, &param);
}

void WorkerPool::worker_main(std::size_t slot) {
  lower_thread_priority(nice_);
  set_thread_scheduling(scheduling_);
  Finished done;
  std::unique_lock lock(mu_);
  for (;;) {
    if (done.job) record_locked(done);
    Job* job = take_next_locked();
    slots_[slot] = {job, job ? real_now() : TimePoint{}};
    if (!job && done.job) {  // deliver before sleeping, then look again
      ++returning_;
      lock.unlock();
      deliver(done);
      lock.lock();
      --returning_;
      continue;
    }
    if (!job) {
      if (stopping_) return;
      ++idle_;
      cv_.wait(lock);
      --idle_;
      if (wakes_pending_) --wakes_pending_;
      continue;
    }
    lock.unlock();
    if (done.job) deliver(done);
    done = {job, job->cls, job->queued_at, slots_[slot].started, {}};
    job->execute();
    done.ended = real_now();
    lock.lock();
  }
}

void WorkerPool::record_locked(const Finished& f) noexcept {
  ClassQueue& q = queue(f.cls);
  const bool was_capped = q.stats.running >= q.max_running;
  --q.stats.running;
  ++q.stats.completed;
  const std::uint64_t wait_ns = nanos_between(f.queued_at, f.started);
  const std::uint64_t run_ns = nanos_between(f.started, f.ended);
  q.stats.queue_wait_ns += wait_ns;
  q.stats.run_ns += run_ns;
  q.queue_wait.record(wait_ns);
  q.run.record(run_ns);
  // A capped class may have blocked other work: let an idle thread look again.
  if (was_capped && idle_ > wakes_pending_ && q.head) {
    ++wakes_pending_;
    cv_.notify_one();
  }
}

void WorkerPool::deliver(Finished& f) noexcept {
  std::shared_ptr<Inbox> inbox = std::move(f.job->inbox);
  inbox->push_completion(std::exchange(f.job, nullptr));  // the job may be gone from here on
}

bool WorkerPool::cancel(Job* job) noexcept {
  std::lock_guard lock(mu_);
  if (job->state != Job::State::queued) return false;
  ClassQueue& q = queue(job->cls);
  unlink_locked(q, job);
  ++q.stats.canceled;
  job->state = Job::State::canceled;
  return true;
}

std::vector<Job*> WorkerPool::drop_jobs_of(const Loop* loop) noexcept {
  std::vector<Job*> dropped;
  std::lock_guard lock(mu_);
  for (ClassQueue& q : queues_) {
    for (Job* job = q.head; job;) {
      Job* next = job->next;
      if (job->loop == loop) {
        unlink_locked(q, job);
        ++q.stats.canceled;
        job->state = Job::State::canceled;
        dropped.push_back(job);
      }
      job = next;
    }
  }
  return dropped;
}

WorkClassStats WorkerPool::stats(WorkClass cls) const {
  std::lock_guard lock(mu_);
  const ClassQueue& q = queues_[static_cast<std::size_t>(cls)];
  WorkClassStats s = q.stats;
  if (q.head) s.oldest_queued_ns = nanos_between(q.head->queued_at, real_now());
  return s;
}

WorkClassHistograms WorkerPool::histograms(WorkClass cls) const {
  std::lock_guard lock(mu_);
  const ClassQueue& q = queues_[static_cast<std::size_t>(cls)];
  return {q.queue_wait.snapshot(), q.run.snapshot()};
}

// The job pointers are only read under mu_, while their threads still hold them.
void WorkerPool::append_running(std::vector<RunningJob>& out) const {
  const TimePoint now = real_now();
  std::lock_guard lock(mu_);
  for (const Slot& s : slots_) {
    if (!s.job) continue;
    out.push_back({s.job->cls, s.job->seq, s.job->label, now - s.started});
  }
}

// ---- submission from a loop -----------------------------------------------------------

std::error_code submit(Loop& loop, Job* job) {
  loop.assert_loop_thread();
  job->loop = &loop;
  job->inbox = weft::detail::LoopAccess::inbox_ptr(loop);
  job->queued_at = real_now();
  if (std::error_code ec = loop.runtime().pool_for(job->cls).submit(job)) {
    job->inbox.reset();
    return ec;
  }
  weft::detail::LoopAccess::add_request(loop);
  return {};
}

bool cancel(Job* job) noexcept {
  Loop& loop = *job->loop;
  loop.assert_loop_thread();
  if (!loop.runtime().pool_for(job->cls).cancel(job)) return false;
  job->inbox.reset();
  // Delivered later, never inside cancel(); the pool's reference moves to the callback,
  // which returns it even if it is destroyed unrun (its loop died first).
  struct JobRef {
    Job* job;
    explicit JobRef(Job* j) : job(j) {}
    JobRef(JobRef&& o) noexcept : job(std::exchange(o.job, nullptr)) {}
    ~JobRef() {
      if (job) job->release();
    }
  };
  loop.defer([ref = JobRef(job), &loop] {
    weft::detail::LoopAccess::remove_request(loop);
    if (!ref.job->abandoned) ref.job->complete(canceled_error());
  });
  return true;
}

void abandon(Job* job) noexcept {
  job->abandoned = true;
  cancel(job);
}

}  // namespace detail

// ---- Runtime ----------------------------------------------------------------------------

namespace {

unsigned default_io_threads() {
  if (const char* env = std::getenv("WEFT_POOL_SIZE")) {
    long n = std::strtol(env, nullptr, 10);
    if (n >= 1 && n <= 1024) return static_cast<unsigned>(n);
  }
  return 4;
}

}  // namespace

Runtime::Runtime(PoolOptions options) : options_(options) {
  if (!options_.io_threads) options_.io_threads = default_io_threads();
  if (!options_.slow_max_running) options_.slow_max_running = std::max(1u, options_.io_threads / 2);
  if (!options_.cpu_threads)
    options_.cpu_threads = std::max(1u, std::thread::hardware_concurrency());
  using CL = detail::WorkerPool::ClassLimit;
  io_ = std::make_unique<detail::WorkerPool>(
      "io", options_.io_threads,
      std::vector<CL>{{WorkClass::fs, options_.io_threads},
                      {WorkClass::slow, options_.slow_max_running}},
      options_.max_queued, options_.io_nice);
  cpu_ = std::make_unique<detail::WorkerPool>(
      "cpu", options_.cpu_threads, std::vector<CL>{{WorkClass::cpu, options_.cpu_threads}},
      options_.max_queued, options_.cpu_nice, options_.cpu_scheduling);
}

Runtime::~Runtime() = default;

detail::WorkerPool& Runtime::pool_for(WorkClass cls) noexcept {
  return cls == WorkClass::cpu ? *cpu_ : *io_;
}

WorkClassStats Runtime::stats(WorkClass cls) const {
  return (cls == WorkClass::cpu ? *cpu_ : *io_).stats(cls);
}

WorkClassHistograms Runtime::histograms(WorkClass cls) const {
  return (cls == WorkClass::cpu ? *cpu_ : *io_).histograms(cls);
}

std::vector<RunningJob> Runtime::running_jobs() const {
  std::vector<RunningJob> out;
  io_->append_running(out);
  cpu_->append_running(out);
  return out;
}

unsigned Runtime::io_threads() const noexcept { return io_->threads(); }
unsigned Runtime::cpu_threads() const noexcept { return cpu_->threads(); }

}  // namespace weft
