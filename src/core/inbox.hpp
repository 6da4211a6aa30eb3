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

// The inbox's lock guards tiny critical sections (a push_back, a swap). A waiter spins a
// little, but only reading the lock word, so the holder keeps its cache line and finishes;
// a waiter that still finds it held sleeps on a futex (std::atomic wait), and the holder
// only makes the wake-up system call when someone sleeps.
class SpinThenWaitMutex {
 public:
  void lock() noexcept {
    int expected = kFree;
    if (state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire)) return;
    lock_contended();
  }
  void unlock() noexcept {
    if (state_.exchange(kFree, std::memory_order_release) == kSleepers) state_.notify_one();
  }

 private:
  static constexpr int kFree = 0, kLocked = 1, kSleepers = 2;
  static constexpr int kSpins = 64;
  void lock_contended() noexcept {
    for (int i = 0; i < kSpins; ++i) {
      cpu_relax();
      int expected = kFree;
      if (state_.load(std::memory_order_relaxed) == kFree &&
          state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire)) {
        return;
      }
    }
    while (state_.exchange(kSleepers, std::memory_order_acquire) != kFree) {
      state_.wait(kSleepers, std::memory_order_relaxed);
    }
  }
  static void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  std::atomic<int> state_{kFree};
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
  alignas(64) SpinThenWaitMutex mu_;
  std::vector<Function<void()>> posts_;
  std::vector<Job*> jobs_;
  bool closed_ = false;
  alignas(64) std::atomic<bool> wake_pending_{false};
  int efd_;
};

}  // namespace weft::detail
