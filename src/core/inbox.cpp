#include "core/inbox.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace weft::detail {

Inbox::Inbox() : efd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (efd_ < 0) throw std::system_error(errno, std::system_category(), "eventfd");
}

Inbox::~Inbox() {
  close();
  ::close(efd_);
}

void Inbox::write_wake_fd() noexcept {
  std::uint64_t one = 1;
  ssize_t r = ::write(efd_, &one, sizeof one);
  (void)r;  // EAGAIN means the counter is already non-zero: the loop will wake anyway
}

// Under mu_: flags the queue for the loop's look and, if the loop is armed, disarms it so
// that exactly one pusher writes the eventfd.
bool Inbox::mark_queued_locked() noexcept {
  if (!queued_.load(std::memory_order_relaxed)) queued_.store(true, std::memory_order_release);
  const bool was_sleeping = sleeping_;
  sleeping_ = false;
  return was_sleeping;
}

void Inbox::wake() noexcept {
  bool write = false;
  {
    std::lock_guard lock(mu_);
    wake_requested_ = true;
    write = mark_queued_locked();
  }
  if (write) write_wake_fd();
}

void Inbox::post(Function<void()>&& fn) {
  bool write = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;  // fn is destroyed by the caller's temporary
    posts_.push_back(std::move(fn));
    write = mark_queued_locked();
  }
  if (write) write_wake_fd();
}

void Inbox::push_completion(Job* job) {
  bool write = false;
  {
    std::lock_guard lock(mu_);
    if (!closed_) {
      jobs_.push_back(job);
      job = nullptr;
      write = mark_queued_locked();
    }
  }
  if (job) {
    job->release();  // the loop is gone: drop the completion
    return;
  }
  if (write) write_wake_fd();
}

bool Inbox::arm_sleep() noexcept {
  std::lock_guard lock(mu_);
  if (wake_requested_ || !posts_.empty() || !jobs_.empty()) return false;
  sleeping_ = true;
  return true;
}

void Inbox::consume_wake_fd() noexcept {
  std::uint64_t count;
  ssize_t r = ::read(efd_, &count, sizeof count);
  (void)r;
}

void Inbox::take(std::vector<Function<void()>>& posts, std::vector<Job*>& jobs) {
  std::lock_guard lock(mu_);
  sleeping_ = false;  // awake: pushes from here on only flag the queue
  wake_requested_ = false;
  queued_.store(false, std::memory_order_relaxed);
  posts.swap(posts_);
  jobs.swap(jobs_);
}

void Inbox::close() {
  std::vector<Function<void()>> posts;
  std::vector<Job*> jobs;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    posts.swap(posts_);
    jobs.swap(jobs_);
  }
  for (Job* job : jobs) job->release();
}

}  // namespace weft::detail
