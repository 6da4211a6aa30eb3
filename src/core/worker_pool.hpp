// WorkerPool: native threads serving one or more work classes, each with its own FIFO
// queue, queue bound and cap on concurrently running jobs. A free thread takes the oldest
// job among the classes that are under their cap, so classes stay FIFO among themselves
// and a capped class (slow) never holds every thread.
#pragma once

#include <weft/pool.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace weft::detail {

class WorkerPool {
 public:
  struct ClassLimit {
    WorkClass cls;
    unsigned max_running;
  };
  WorkerPool(const char* name, unsigned threads, const std::vector<ClassLimit>& classes,
             std::size_t max_queued, int nice = 0,
             PoolScheduling scheduling = PoolScheduling::normal);
  ~WorkerPool();

  std::error_code submit(Job* job);  // takes the job's reference on success
  void flush_wakes() noexcept;       // loop thread, before polling: wake idle threads for new jobs
  bool cancel(Job* job) noexcept;    // true: removed before it ran (reference returned)
  std::vector<Job*> drop_jobs_of(const Loop* loop) noexcept;  // queued jobs, removed
  WorkClassStats stats(WorkClass cls) const;
  WorkClassHistograms histograms(WorkClass cls) const;
  void append_running(std::vector<RunningJob>& out) const;
  unsigned threads() const noexcept { return thread_count_; }

 private:
  struct ClassQueue {
    Job* head = nullptr;
    Job* tail = nullptr;
    unsigned max_running = 0;
    bool served = false;
    WorkClassStats stats;
    Histogram queue_wait;  // written under mu_
    Histogram run;
  };
  // What one thread runs now (written by the thread under mu_, read under mu_).
  struct Slot {
    Job* job = nullptr;
    TimePoint started{};
  };
  void start_threads();
  struct Finished {
    Job* job = nullptr;
    WorkClass cls = WorkClass::fs;
    TimePoint queued_at{}, started{}, ended{};
  };
  void worker_main(std::size_t slot);
  void record_locked(const Finished& f) noexcept;
  void deliver(Finished& f) noexcept;
  Job* take_next_locked();
  void unlink_locked(ClassQueue& q, Job* job) noexcept;
  ClassQueue& queue(WorkClass cls) noexcept { return queues_[static_cast<std::size_t>(cls)]; }

  const char* name_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  ClassQueue queues_[kWorkClassCount];
  std::vector<std::thread> threads_;
  std::vector<Slot> slots_;  // one per thread
  std::size_t max_queued_;
  std::uint64_t seq_ = 0;
  unsigned thread_count_;
  int nice_;                   // how much lower its threads run (PoolOptions::io_nice, cpu_nice)
  PoolScheduling scheduling_;  // PoolOptions::cpu_scheduling for the cpu pool
  unsigned idle_ = 0;
  unsigned wakes_pending_ = 0;
  unsigned returning_ = 0;  // threads delivering a completion that look for work right after
  std::atomic<bool> deferred_{false};
  bool stopping_ = false;
};

}  // namespace weft::detail
