#include <weft/loop_thread.hpp>
#include <weft/timer.hpp>

#include <pthread.h>

#include <condition_variable>
#include <exception>
#include <optional>

namespace weft {

// The starter waits here until the thread says how its start went.
struct LoopThread::StartGate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  std::exception_ptr error;

  // Notifies under the lock: the waiter destroys the gate as soon as it sees `open`, so
  // nothing of the gate may be touched after the lock is released.
  void release(std::exception_ptr e) {
    std::lock_guard lock(mutex);
    open = true;
    error = std::move(e);
    cv.notify_one();
  }
  std::exception_ptr wait() {
    std::unique_lock lock(mutex);
    cv.wait(lock, [this] { return open; });
    return error;
  }
};

LoopThread::LoopThread(LoopThreadOptions options, Function<void(LoopThread&)> setup)
    : name_(std::move(options.name)), runtime_(std::move(options.runtime)) {
  StartGate gate;
  thread_ = std::thread([this, &setup, &gate] { run(setup, gate); });
  if (std::exception_ptr error = gate.wait()) {
    thread_.join();
    std::rethrow_exception(error);
  }
}

LoopThread::~LoopThread() {
  stop(Duration::zero());
  join();
}

// The thread, start to end. `setup` and `gate` belong to the constructor: neither is
// touched after the gate is released.
void LoopThread::run(Function<void(LoopThread&)>& setup, StartGate& gate) {
  (void)pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  std::optional<Loop> loop;
  std::exception_ptr error;
  try {
    loop.emplace(LoopOptions{.runtime = runtime_});
    loop_ = &*loop;
    keep_ = std::make_unique<Loop::KeepAlive>(*loop);
    if (setup) setup(*this);
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    if (loop) begin_stop(Duration::zero());
  } else {
    std::lock_guard lock(mutex_);
    running_ = true;
  }
  if (loop) loop->post([&gate, error] { gate.release(error); });  // the loop runs now
  if (!loop) gate.release(error);
  if (loop) loop->run();
  end();
}

// After run(): no more posts, then the exit hooks, then the loop's own teardown.
void LoopThread::end() noexcept {
  {
    std::lock_guard lock(mutex_);
    running_ = false;
  }
  deadline_.reset();
  keep_.reset();
  shutdown_hooks_.clear();
  for (auto& hook : exit_hooks_) hook();
  exit_hooks_.clear();
}

bool LoopThread::post(Function<void()> fn) {
  std::lock_guard lock(mutex_);
  if (!running_) return false;
  loop_->post(std::move(fn));
  return true;
}

void LoopThread::on_shutdown(Function<void()> hook) {
  loop_->assert_loop_thread();
  shutdown_hooks_.push_back(std::move(hook));
}

void LoopThread::on_exit(Function<void()> hook) {
  loop_->assert_loop_thread();
  exit_hooks_.push_back(std::move(hook));
}

void LoopThread::stop(Duration deadline) {
  std::lock_guard lock(mutex_);
  if (!running_) return;
  loop_->post([this, deadline] { begin_stop(deadline); });
}

// On the loop: the hooks (once), then nothing holds the loop but what is referenced, and
// the deadline (unreferenced) ends it at the latest. A later stop() only brings the
// deadline closer.
void LoopThread::begin_stop(Duration deadline) {
  std::vector<Function<void()>> hooks = std::move(shutdown_hooks_);
  for (auto& hook : hooks) hook();
  keep_.reset();
  if (deadline >= Duration::max() / 2) return;
  const TimePoint due = loop_->now() + deadline;
  if (deadline_ && deadline_due_ <= due) return;
  deadline_due_ = due;
  deadline_ = std::make_unique<Timer>(*loop_);
  deadline_->start([this] { loop_->stop(); }, deadline);
  deadline_->unref();
}

void LoopThread::join() {
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

}  // namespace weft
