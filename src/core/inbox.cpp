#include "core/inbox.hpp"

#include "core/fence.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <thread>
#include <utility>

namespace weft::detail {

// ---- ProducerQueue ----------------------------------------------------------------------

ProducerQueue::ProducerQueue() : tail_(new Block), head_(tail_) {}

ProducerQueue::~ProducerQueue() {
  destroy_remaining();
  delete head_;
  delete spare_.load(std::memory_order_relaxed);
}

ProducerQueue::Block* ProducerQueue::new_block() {
  if (Block* b = spare_.exchange(nullptr, std::memory_order_acquire)) return b;
  return new Block;
}

void ProducerQueue::push(Function<void()>&& fn, Job* job) {
  if (tail_pos_ == kItems) {
    Block* next = new_block();
    next->next = nullptr;
    tail_->next = next;  // published with the item below
    tail_ = next;
    tail_pos_ = 0;
  }
  Item& item = tail_->items[tail_pos_++];
  item.fn = std::move(fn);
  item.job = job;
  published_.store(++pushed_, std::memory_order_release);
}

// A drained block (every item empty again) goes back to the producer as its spare.
void ProducerQueue::retire(Block* block) noexcept {
  delete spare_.exchange(block, std::memory_order_release);
}

ProducerQueue::Item& ProducerQueue::next_for_consumer() noexcept {
  if (head_pos_ == kItems) {  // the producer linked the next block before publishing into it
    retire(std::exchange(head_, head_->next));
    head_pos_ = 0;
  }
  return head_->items[head_pos_++];
}

// No other thread touches the queue any more: everything published and not drained goes.
void ProducerQueue::destroy_remaining() noexcept {
  for (; popped_ != pushed_; ++popped_) {
    Item& item = next_for_consumer();
    if (Job* job = std::exchange(item.job, nullptr)) job->release();
    item.fn = nullptr;
  }
}

// ---- the thread's queues ----------------------------------------------------------------

namespace {

std::atomic<std::uint64_t> g_next_inbox_id{1};

// The calling thread's queues, one per inbox it has posted to. Its destructor (thread exit)
// tells each inbox's loop that the queue may go once drained.
struct ThreadQueues {
  std::uint64_t cached_id = 0;
  ProducerQueue* cached = nullptr;
  std::vector<std::pair<std::uint64_t, std::shared_ptr<ProducerQueue>>> queues;

  ~ThreadQueues();
  void forget_dead_inboxes() {
    std::erase_if(
        queues, [](const auto& e) { return e.second->inbox_gone.load(std::memory_order_acquire); });
  }
};

thread_local bool t_queues_destroyed = false;  // trivially destructible: readable at any time
thread_local ThreadQueues t_queues;

ThreadQueues::~ThreadQueues() {
  for (auto& entry : queues) entry.second->producer_gone.store(true, std::memory_order_release);
  t_queues_destroyed = true;
}

}  // namespace

// ---- Inbox ----------------------------------------------------------------------------------

Inbox::Inbox()
    : efd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      id_(g_next_inbox_id.fetch_add(1, std::memory_order_relaxed)) {
  if (efd_ < 0) throw std::system_error(errno, std::system_category(), "eventfd");
}

Inbox::~Inbox() {
  close();
  std::lock_guard lock(registry_mu_);
  for (auto& q : registry_) q->inbox_gone.store(true, std::memory_order_release);
  ::close(efd_);
}

void Inbox::wake() noexcept {
  light_fence();  // pairs with arm_for_sleep's heavy fence
  // Coalesced: one write per sleep of the loop.
  if (wake_pending_.load(std::memory_order_relaxed) ||
      wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  std::uint64_t one = 1;
  ssize_t r = ::write(efd_, &one, sizeof one);
  (void)r;  // EAGAIN means the counter is already non-zero: the loop will wake anyway
}

ProducerQueue& Inbox::queue_of_this_thread() {
  ThreadQueues& mine = t_queues;
  if (mine.cached_id == id_) return *mine.cached;
  for (auto& [id, q] : mine.queues) {
    if (id == id_) {
      mine.cached_id = id_;
      mine.cached = q.get();
      return *q;
    }
  }
  return register_this_thread();
}

ProducerQueue& Inbox::register_this_thread() {
  ThreadQueues& mine = t_queues;
  mine.forget_dead_inboxes();
  auto q = std::make_shared<ProducerQueue>();
  add_to_registry(q);
  mine.queues.emplace_back(id_, q);
  mine.cached_id = id_;
  mine.cached = q.get();
  return *q;
}

void Inbox::add_to_registry(std::shared_ptr<ProducerQueue> q) {
  std::lock_guard lock(registry_mu_);
  registry_.push_back(std::move(q));
  registry_version_.fetch_add(1, std::memory_order_release);
}

// A post marks itself in flight before it publishes its item, so a loop that took the item
// (an acquire of the count published after the mark) sees the mark when it closes, and
// waits. A post that is not taken yet does not keep the loop alive (Loop::post's contract:
// a KeepAlive or a job does), so no fence is needed for the posts the loop never saw.
bool Inbox::push(Function<void()>&& fn, Job* job) {
  if (t_queues_destroyed) return push_stray(std::move(fn), job);
  if (closed_.load(std::memory_order_acquire)) return false;
  ProducerQueue& q = queue_of_this_thread();
  q.begin_post();
  q.push(std::move(fn), job);
  wake();
  q.end_post();
  return true;
}

// A thread whose own queues are already destroyed (it posts from a thread_local's destructor
// at exit) pushes onto the shared stray queue, under its lock, which close() also takes.
bool Inbox::push_stray(Function<void()>&& fn, Job* job) {
  std::lock_guard lock(stray_mu_);
  if (closed_.load(std::memory_order_relaxed)) return false;
  if (!stray_) {
    stray_ = std::make_shared<ProducerQueue>();
    add_to_registry(stray_);
  }
  stray_->push(std::move(fn), job);
  wake();
  return true;
}

void Inbox::post(Function<void()>&& fn) {
  (void)push(std::move(fn), nullptr);  // when closed, fn is destroyed by the caller's temporary
}

void Inbox::push_completion(Job* job) {
  if (!push(Function<void()>{}, job)) job->release();  // the loop is gone: drop the completion
}

void Inbox::refresh_queues() {
  if (registry_version_.load(std::memory_order_acquire) == loop_version_) return;
  std::lock_guard lock(registry_mu_);
  loop_queues_ = registry_;
  loop_version_ = registry_version_.load(std::memory_order_relaxed);
}

// A queue whose thread exited and that is drained will never fill again.
void Inbox::forget_exited_producers() {
  auto gone = [](const std::shared_ptr<ProducerQueue>& q) {
    return q->producer_gone.load(std::memory_order_acquire) && q->empty_for_consumer();
  };
  if (std::none_of(loop_queues_.begin(), loop_queues_.end(), gone)) return;
  std::lock_guard lock(registry_mu_);
  std::erase_if(registry_, gone);
  registry_version_.fetch_add(1, std::memory_order_release);
}

void Inbox::consume_wakeup() noexcept {
  std::uint64_t count;
  ssize_t r = ::read(efd_, &count, sizeof count);
  (void)r;  // EAGAIN: already reset
}

bool Inbox::has_items() {
  refresh_queues();
  return std::any_of(loop_queues_.begin(), loop_queues_.end(),
                     [](const auto& q) { return !q->empty_for_consumer(); });
}

bool Inbox::arm_for_sleep() {
  // Still clear since the last arming: a post since then would have set it (and written the
  // eventfd), so nothing new is queued and no fence is needed.
  if (!wake_pending_.load(std::memory_order_relaxed)) return true;
  wake_pending_.store(false, std::memory_order_relaxed);
  heavy_fence();  // pairs with wake()'s light fence
  return !has_items();
}

void Inbox::close() {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return;
  full_fence();
  wait_for_posts_in_flight();
  auto drop_post = [](Function<void()>&) {};
  auto drop_job = [](Job* job) { job->release(); };
  for (auto& q : loop_queues_) q->consume(drop_post, drop_job);
}

// A queue registered after the copy below belongs to a post that registered after closed_
// was set (registry_mu_ orders them): that post sees the inbox closed.
void Inbox::wait_for_posts_in_flight() {
  { std::lock_guard lock(stray_mu_); }  // a stray push holds it until done
  refresh_queues();
  for (auto& q : loop_queues_) {
    while (q->posting()) std::this_thread::yield();  // a post is a few hundred ns unless preempted
  }
}

}  // namespace weft::detail
