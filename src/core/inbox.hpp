// Inbox: the one cross-thread hand-off into a loop — an MPSC queue (mutex + swapped
// vectors) and one coalesced eventfd wake-up. Posted functions and finished pool jobs
// arrive here. Shared between the loop and every job in flight, so a worker that finishes
// after its loop died finds the inbox closed and drops the completion.
#pragma once

#include <weft/function.hpp>
#include <weft/pool.hpp>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace weft::detail {

// The inbox's lock guards tiny critical sections (a push_back, a swap). Under contention a
// plain mutex puts the poster to sleep in the kernel for what is a few dozen nanoseconds
// of work; this one first retries try_lock() briefly (no syscall), and only then blocks,
// so a preempted holder never makes anyone spin for long.
class BriefSpinMutex {
 public:
  void lock() noexcept {
    for (int i = 0; i < kSpins; ++i) {
      if (mu_.try_lock()) return;
      cpu_relax();
    }
    mu_.lock();
  }
  void unlock() noexcept { mu_.unlock(); }

 private:
  static constexpr int kSpins = 1000;
  static void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  std::mutex mu_;
};

class Inbox {
 public:
  Inbox();
  ~Inbox();
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  int fd() const noexcept { return efd_; }

  // Any thread. Dropped (destroyed on the calling thread) once the inbox is closed.
  void post(Function<void()>&& fn);
  void push_completion(Job* job);  // takes the job's reference
  // Any thread: makes the loop's poll return.
  void wake() noexcept;
  // Something was posted (or a wake-up requested) that the loop has not taken yet.
  bool wake_pending() const noexcept { return wake_pending_.load(std::memory_order_acquire); }

  // Loop thread: clears the wake-up and moves everything queued into the out vectors.
  void take(std::vector<Function<void()>>& posts, std::vector<Job*>& jobs);
  // Loop thread, when the loop dies: later pushes are dropped, queued items destroyed.
  void close();

 private:
  // The queue (written by producers under mu_) and the wake flag (read by every producer,
  // written by the loop once per take) live on separate cache lines, so clearing the
  // flag does not steal the line a producer is about to lock.
  alignas(64) BriefSpinMutex mu_;
  std::vector<Function<void()>> posts_;
  std::vector<Job*> jobs_;
  bool closed_ = false;
  alignas(64) std::atomic<bool> wake_pending_{false};
  int efd_;
};

}  // namespace weft::detail
