// Inbox: the one cross-thread hand-off into a loop. Posted functions and finished pool
// jobs arrive here, with one coalesced eventfd wake-up. Shared between the loop and every
// job in flight, so a worker that finishes after its loop died finds the inbox closed and
// drops the completion.
//
// Each producer thread has its own single-producer queue into each inbox it posts to
// (ProducerQueue): a post takes no lock and no locked instruction — it writes its item, then
// publishes a count. A shared locked queue costs two locked instructions per post, each
// waiting for the lines the loop last touched (measured in docs/BENCHMARKS.md, issue #15).
// The wake-up handshake is a store-load one (see wake / arm_for_sleep) whose rare side, the
// loop arming before a sleep, carries the barrier (core/fence.hpp: membarrier).
// Order: what one thread posts runs in the order posted, functions and pool completions
// alike; items of different threads have no order between them, even when the posts were
// ordered by synchronization between those threads.
#pragma once

#include <weft/function.hpp>
#include <weft/pool.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace weft::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// One producer thread's queue into one inbox: an unbounded list of fixed-size blocks.
// push() only on the producer thread; drain() only on the loop thread.
class ProducerQueue {
 public:
  ProducerQueue();
  ~ProducerQueue();  // destroys what was never drained; releases undelivered jobs
  ProducerQueue(const ProducerQueue&) = delete;
  ProducerQueue& operator=(const ProducerQueue&) = delete;

  void push(Function<void()>&& fn, Job* job);
  // Hands every item published so far, in order, to on_post(Function&) or on_job(Job*), in
  // place (the function is destroyed after on_post returns); returns whether there was any.
  // Items pushed meanwhile (also by the callbacks, on the loop's own queue) wait for the next
  // call.
  template <class OnPost, class OnJob>
  bool consume(OnPost&& on_post, OnJob&& on_job);
  bool empty_for_consumer() const noexcept {
    return published_.load(std::memory_order_acquire) == popped_;
  }

  std::atomic<bool> producer_gone{false};  // the producing thread exited
  std::atomic<bool> inbox_gone{false};     // the inbox died: the producer may forget this queue

  // Producer: brackets a post, from before it publishes its item until it no longer touches
  // the inbox. The inbox's close waits for a post in flight, because the posted function may
  // end the loop, whose thread then destroys the inbox while the poster is still in wake().
  void begin_post() noexcept { posting_.store(true, std::memory_order_relaxed); }
  void end_post() noexcept { posting_.store(false, std::memory_order_release); }
  bool posting() const noexcept { return posting_.load(std::memory_order_acquire); }

 private:
  struct Item {
    Function<void()> fn;
    Job* job = nullptr;
  };
  static constexpr unsigned kItems = 63;
  struct Block {
    Block* next = nullptr;  // written before the first item of the next block is published
    Item items[kItems];
  };
  void destroy_remaining() noexcept;
  Item& next_for_consumer() noexcept;
  Block* new_block();
  void retire(Block* block) noexcept;

  // Producer side.
  Block* tail_;
  unsigned tail_pos_ = 0;
  std::uint64_t pushed_ = 0;
  std::atomic<bool> posting_{false};  // read by the consumer only when the inbox closes
  // Shared: count of items the producer has published (release) — the only word both write
  // or read, on its own line.
  alignas(64) std::atomic<std::uint64_t> published_{0};
  // Consumer side.
  alignas(64) Block* head_;
  unsigned head_pos_ = 0;
  std::uint64_t popped_ = 0;
  // One drained block handed back to the producer, so a steady stream allocates nothing.
  std::atomic<Block*> spare_{nullptr};
};

template <class OnPost, class OnJob>
bool ProducerQueue::consume(OnPost&& on_post, OnJob&& on_job) {
  const std::uint64_t end = published_.load(std::memory_order_acquire);
  if (end == popped_) return false;
  while (popped_ != end) {
    Item& item = next_for_consumer();
    ++popped_;
    if (Job* job = item.job) {
      item.job = nullptr;
      on_job(job);
    } else {
      on_post(item.fn);
      item.fn.reset();
    }
  }
  return true;
}

class Inbox {
 public:
  Inbox();
  ~Inbox();
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  int fd() const noexcept { return efd_; }

  // Any thread, while the inbox is alive when the call begins; the loop may end and destroy
  // it during the call (its close waits until the call no longer touches it). Dropped
  // (destroyed on the calling thread) once the inbox is closed.
  void post(Function<void()>&& fn);
  void push_completion(Job* job);  // takes the job's reference
  // Any thread, after changing what the loop looks at (a post, a released KeepAlive, a stop
  // request): makes a sleeping loop's poll return. A loop that is awake is not signalled: it
  // looks again before it sleeps (arm_for_sleep).
  void wake() noexcept;

  // Loop thread. The wake protocol: while the loop is awake the flag stays set, so producers
  // make no system call; before a blocking poll the loop clears it (arm_for_sleep), and the
  // first producer after that writes the eventfd. The store-load fences on both sides make
  // sure that either the loop sees the producer's item (and does not sleep) or the producer
  // sees the cleared flag (and writes the eventfd).
  bool arm_for_sleep();  // false: something is queued already; do not sleep
  void set_awake() noexcept { wake_pending_.store(true, std::memory_order_relaxed); }
  void consume_wakeup() noexcept;  // the eventfd was readable: reset its counter
  bool has_items();                // something was posted that the loop has not taken
  // Runs everything queued (ProducerQueue::consume); returns whether there was anything.
  template <class OnPost, class OnJob>
  bool take(OnPost&& on_post, OnJob&& on_job);
  // Loop thread: the producer queues the loop looks at (for tests: an exited thread's queue
  // goes once drained).
  std::size_t producer_queue_count() {
    refresh_queues();
    return loop_queues_.size();
  }
  // Loop thread, when the loop dies: later pushes are dropped; waits for pushes in flight,
  // then destroys what is queued.
  void close();

 private:
  bool push(Function<void()>&& fn, Job* job);  // false: closed, nothing taken
  bool push_stray(Function<void()>&& fn, Job* job);
  void wait_for_posts_in_flight();
  ProducerQueue& queue_of_this_thread();
  ProducerQueue& register_this_thread();
  void add_to_registry(std::shared_ptr<ProducerQueue> q);
  void refresh_queues();
  void forget_exited_producers();

  // Read by every producer on every post, written by the loop once per take.
  alignas(64) std::atomic<bool> wake_pending_{false};
  int efd_;
  const std::uint64_t id_;  // never reused: a producer's cache of "my queue here" keys on it
  std::atomic<bool> closed_{false};

  // Every producer's queue. Producers add under registry_mu_ and bump the version; the loop
  // copies the list when the version moved, so a take locks nothing in the steady state.
  alignas(64) std::mutex registry_mu_;
  std::vector<std::shared_ptr<ProducerQueue>> registry_;
  std::atomic<std::uint64_t> registry_version_{0};
  std::vector<std::shared_ptr<ProducerQueue>> loop_queues_;  // loop thread's copy
  std::uint64_t loop_version_ = 0;
  // Threads whose thread-local queues are already destroyed (posting from a thread_local's
  // destructor at thread exit) share this one, pushing under stray_mu_.
  std::mutex stray_mu_;
  std::shared_ptr<ProducerQueue> stray_;
};

template <class OnPost, class OnJob>
bool Inbox::take(OnPost&& on_post, OnJob&& on_job) {
  refresh_queues();
  bool any = false;
  // A callback may refresh loop_queues_ (a nested run): hold each queue while consuming it.
  // An empty lane costs one load: no copy of its shared_ptr (two locked instructions).
  for (std::size_t i = 0; i < loop_queues_.size(); ++i) {
    if (loop_queues_[i]->empty_for_consumer()) continue;
    std::shared_ptr<ProducerQueue> q = loop_queues_[i];
    any |= q->consume(on_post, on_job);
  }
  // A lane only becomes forgettable once drained, so only a take that drained something
  // looks for them (a thread that exits after its last post is forgotten at the next one).
  if (any) forget_exited_producers();
  return any;
}

}  // namespace weft::detail
