// Inbox: the one cross-thread hand-off into a loop — an MPSC queue (mutex + swapped
// vectors) and one coalesced eventfd wake-up. Posted functions and finished pool jobs
// arrive here. Shared between the loop and every job in flight, so a worker that finishes
// after its loop died finds the inbox closed and drops the completion.
//
// The eventfd is written only when the loop is asleep, or about to be: the loop arms the
// wake-up under the queue's lock right before it blocks (arm_sleep), after checking that
// nothing is queued, and disarms it when it next takes. While the loop is awake producers
// only push; the loop looks at the queue (a flag on its own line) every poll phase. So a
// burst of posts to a busy loop costs no system call on either side, and a wake-up can
// never be lost: a push either comes before the check (the loop does not sleep) or after
// the arming (the producer sees it and writes).
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
  // Any thread: makes the loop look again (its poll returns, or it does not block).
  void wake() noexcept;
  // Something was posted (or a wake-up requested) that the loop has not taken yet. A hint
  // for the loop thread; arm_sleep() is the exact check.
  bool has_queued() const noexcept { return queued_.load(std::memory_order_acquire); }

  // Loop thread, right before a blocking poll: false if something is queued or a wake-up
  // was requested (do not block); true if armed (the next push writes the eventfd).
  bool arm_sleep() noexcept;
  // Loop thread: the eventfd was readable; resets its counter.
  void consume_wake_fd() noexcept;
  // Loop thread: disarms the wake-up and moves everything queued into the out vectors.
  void take(std::vector<Function<void()>>& posts, std::vector<Job*>& jobs);
  // Loop thread, when the loop dies: later pushes are dropped, queued items destroyed.
  void close();

 private:
  bool mark_queued_locked() noexcept;  // true: the loop sleeps, the caller writes the eventfd
  void write_wake_fd() noexcept;

  // The queue and the sleep state (written under mu_) and the queued flag (read by the
  // loop every iteration, written once per batch) live on separate cache lines, so the
  // loop's look does not steal the line a producer is about to lock.
  alignas(64) BriefSpinMutex mu_;
  std::vector<Function<void()>> posts_;
  std::vector<Job*> jobs_;
  bool closed_ = false;
  bool sleeping_ = false;        // armed: the loop blocks (or is about to) until written
  bool wake_requested_ = false;  // wake() while the loop was awake: do not block
  alignas(64) std::atomic<bool> queued_{false};
  int efd_;
};

}  // namespace weft::detail
