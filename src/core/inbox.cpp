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

void Inbox::wake() noexcept {
  // Coalesced: one write until the loop has taken what is queued.
  if (wake_pending_.load(std::memory_order_acquire) ||
      wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  std::uint64_t one = 1;
  ssize_t r = ::write(efd_, &one, sizeof one);
  (void)r;  // EAGAIN means the counter is already non-zero: the loop will wake anyway
}

void Inbox::post(Function<void()>&& fn) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;  // fn is destroyed by the caller's temporary
    posts_.push_back(std::move(fn));
  }
  wake();
}

void Inbox::push_completion(Job* job) {
  {
    std::lock_guard lock(mu_);
    if (!closed_) {
      jobs_.push_back(job);
      job = nullptr;
    }
  }
  if (job) {
    job->release();  // the loop is gone: drop the completion
    return;
  }
  wake();
}

void Inbox::take(std::vector<Function<void()>>& posts, std::vector<Job*>& jobs) {
  std::uint64_t count;
  ssize_t r = ::read(efd_, &count, sizeof count);
  (void)r;
  // Cleared before taking: a push after the swap below wakes the loop again.
  wake_pending_.store(false, std::memory_order_release);
  std::lock_guard lock(mu_);
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
