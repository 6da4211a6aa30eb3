#include <weft/loop.hpp>

#include "core/loop_core.hpp"
#include "core/worker_pool.hpp"

#include <weft/pool.hpp>

#include <climits>
#include <csignal>
#include <cstdio>
#include <mutex>

namespace weft {
namespace {

thread_local Loop* t_current_loop = nullptr;

void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

void default_uncaught(std::exception_ptr e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "weft: uncaught exception in a loop callback: %s\n", ex.what());
  } catch (...) {
    std::fprintf(stderr, "weft: uncaught non-standard exception in a loop callback\n");
  }
  std::terminate();
}

}  // namespace

Loop::Loop() : Loop(LoopOptions{}) {}

Loop::Loop(LoopOptions options)
    : clock_(options.clock),
      runtime_(options.runtime ? std::move(options.runtime) : std::make_shared<Runtime>()),
      inbox_(std::make_shared<detail::Inbox>()),
      inbox_spin_(options.inbox_spin),
      owner_(std::this_thread::get_id()) {
  ignore_sigpipe_once();
  if (!clock_) {
    own_clock_ = std::make_unique<SteadyClock>();
    clock_ = own_clock_.get();
  }
  core_ = std::make_unique<detail::LoopCore>(*this);
  now_ = clock_->now();
}

Loop::~Loop() {
  destroy_locals();
  core_->destroy_spawned();
  for (WorkClass c : {WorkClass::fs, WorkClass::cpu}) {
    for (detail::Job* job : runtime_->pool_for(c).drop_jobs_of(this)) job->release();
  }
  inbox_->close();
  detach_handles();
  core_.reset();
}

void Loop::detach_handles() noexcept {
  while (Handle* h = handles_) {
    handles_ = h->next_;
    h->loop_ = nullptr;
    h->prev_ = h->next_ = nullptr;
  }
  closing_head_ = closing_tail_ = nullptr;
}

bool Loop::run(RunMode mode) {
  owner_ = std::this_thread::get_id();
  Loop* outer = std::exchange(t_current_loop, this);
  update_time();
  probe_.enter_run(LoopProbe::to_ns(now_));
  time_fresh_ = true;  // the first iteration need not read the clock again
  if (microtasks_queued_) drain_microtasks();
  bool more = alive();
  while (more && !stop_requested_.load(std::memory_order_relaxed)) {
    iterate(mode);
    more = alive();
    if (mode != RunMode::until_done) break;
  }
  stop_requested_.store(false, std::memory_order_relaxed);
  probe_.leave_run(LoopProbe::to_ns(now_));  // the cached time: no clock read per run()
  t_current_loop = outer;
  return more;
}

void Loop::iterate(RunMode mode) {
  if (!std::exchange(time_fresh_, false)) update_time();
  core_->run_timers();
  bool ran_pending = !core_->pending.empty();
  run_pending();
  core_->run_phase<Phase::idle>();
  core_->run_phase<Phase::prepare>();
  poll(mode == RunMode::until_done || (mode == RunMode::once && !ran_pending));
  run_immediates();
  core_->run_phase<Phase::check>();
  run_closing();
  if (mode == RunMode::once) {  // once promises forward progress: a due timer counts
    update_time();
    core_->run_timers();
  }
  ++iterations_;
  probe_.count_iteration();
}

void Loop::poll(bool may_block) {
  for (WorkClass c : {WorkClass::fs, WorkClass::cpu}) runtime_->pool_for(c).flush_wakes();
  int timeout = poll_timeout_ms(may_block);
  if (timeout != 0 && clock_->auto_advances() && core_->has_timers() && active_requests_ == 0 &&
      keep_alives_.load() == 0) {
    clock_->advance_to(core_->next_timer_due());  // paused time: jump instead of sleeping
    timeout = 0;
  }
  if (timeout != 0 && !ready_to_sleep()) timeout = 0;
  core_->dispatch_io(timeout);
  run_posted();
}

// Before a blocking poll. A loop that just took posts first spins briefly (inbox_spin) for
// more, because a sleep and the producer's wake-up cost more than the spin when posts stream
// in. Then it arms the inbox (producers write the eventfd from now on) and looks once more
// at everything a waker may have changed: posts, a stop request, released KeepAlives.
bool Loop::ready_to_sleep() {
  if (std::exchange(inbox_traffic_, false) && spin_for_posts()) return false;
  if (inbox_->arm_for_sleep() && !stop_requested_.load(std::memory_order_relaxed) && alive()) {
    return true;
  }
  inbox_->set_awake();
  return false;
}

bool Loop::spin_for_posts() {
  if (inbox_spin_ <= std::chrono::nanoseconds::zero()) return false;
  const auto deadline = std::chrono::steady_clock::now() + inbox_spin_;
  // Looks about once a microsecond: a consumer that reads the producers' lines after every
  // item takes them away from the producers; a pause lets a batch gather.
  for (;;) {
    for (int i = 0; i < 32; ++i) detail::cpu_relax();
    if (inbox_->has_items()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}

int Loop::poll_timeout_ms(bool may_block) {
  if (!may_block || stop_requested_.load(std::memory_order_relaxed) || has_ready_work() ||
      !alive()) {
    return 0;
  }
  if (!core_->has_timers()) return -1;
  auto wait = core_->next_timer_due() - now_;
  if (wait <= Duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

bool Loop::has_ready_work() const noexcept {
  return !core_->pending.empty() || !core_->immediates.empty() || closing_head_ ||
         core_->has_idle() || !core_->microtasks.empty();
}

bool Loop::alive() const noexcept {
  return active_ref_handles_ > 0 || active_requests_ > 0 ||
         keep_alives_.load(std::memory_order_acquire) > 0 || closing_head_ ||
         !core_->pending.empty() || !core_->immediates.empty() ||
         inbox_->has_items();  // posted before a KeepAlive was released: deliver it
}

void Loop::stop() noexcept {
  stop_requested_.store(true, std::memory_order_relaxed);
  inbox_->wake();
}

std::error_code Loop::close() {
  assert_loop_thread();
  if (closed_) return {};
  destroy_locals();
  for (Handle* h = handles_; h; h = h->next_) {
    if (!h->is_closed()) return make_error_code(errc::loop_busy);
  }
  if (active_requests_ || closing_head_ || !core_->pending.empty() || !core_->immediates.empty()) {
    return make_error_code(errc::loop_busy);
  }
  closed_ = true;
  return {};
}

void Loop::update_time() noexcept {
  now_ = own_clock_ ? std::chrono::steady_clock::now() : clock_->now();  // no virtual call
}

void Loop::post(Function<void()> fn) { inbox_->post(std::move(fn)); }

void Loop::queue_microtask(Function<void()> fn) {
  assert_loop_thread();
  core_->microtasks.push_back(std::move(fn));
  microtasks_queued_ = true;
}

void Loop::set_immediate(Function<void()> fn) {
  assert_loop_thread();
  core_->immediates.push_back(std::move(fn));
}

void Loop::defer(Function<void()> fn) {
  assert_loop_thread();
  core_->pending.push_back(std::move(fn));
}

void Loop::run_posted() {
  auto run_post = [this](Function<void()>& fn) { invoke("post", fn); };
  auto run_job = [this](detail::Job* job) {
    --active_requests_;
    if (!job->abandoned)
      call(job->label ? job->label : "pool completion", [job] { job->complete({}); });
    job->release();
  };
  if (inbox_->take(run_post, run_job)) inbox_traffic_ = true;
}

void Loop::run_pending() {
  if (core_->pending.empty()) return;
  auto& running = core_->pending_running;
  running.swap(core_->pending);
  for (auto& fn : running) invoke("pending", fn);
  running.clear();
}

void Loop::run_immediates() {
  if (core_->immediates.empty()) return;
  auto& running = core_->immediates_running;
  running.swap(core_->immediates);  // immediates queued now run in the next iteration
  for (auto& fn : running) invoke("immediate", fn);
  running.clear();
}

void Loop::invoke(const char* label, Function<void()>& fn) noexcept { call(label, fn); }

void Loop::drain_microtasks() noexcept {
  auto& queue = core_->microtasks;
  if (core_->draining_microtasks) return;  // the outer drain picks up new ones
  core_->draining_microtasks = true;
  microtasks_queued_ = false;
  while (!queue.empty()) {
    Function<void()> fn = std::move(queue.front());
    queue.pop_front();
    probe_.enter_callback("microtask");
    try {
      fn();
    } catch (...) {
      report_uncaught(std::current_exception());
    }
  }
  microtasks_queued_ = false;  // any queued meanwhile ran in the loop above
  core_->draining_microtasks = false;
}

void Loop::set_uncaught_exception_handler(Function<void(std::exception_ptr)> handler) {
  core_->uncaught_handler = std::move(handler);
}

void Loop::report_uncaught(std::exception_ptr e) noexcept {
  if (!core_->uncaught_handler) default_uncaught(e);
  try {
    core_->uncaught_handler(e);
  } catch (...) {
    default_uncaught(std::current_exception());
  }
}

Loop* Loop::current() noexcept { return t_current_loop; }

void Loop::assert_loop_thread() const noexcept {
#ifndef NDEBUG
  if (!on_loop_thread()) {
    std::fprintf(stderr, "weft: a loop-thread-only function was called from another thread\n");
    std::abort();
  }
#endif
}

Loop::KeepAlive::KeepAlive(Loop& loop) : loop_(&loop) {
  loop.keep_alives_.fetch_add(1, std::memory_order_acq_rel);
}

Loop::KeepAlive& Loop::KeepAlive::operator=(KeepAlive&& other) noexcept {
  if (this != &other) {
    reset();
    loop_ = std::exchange(other.loop_, nullptr);
  }
  return *this;
}

void Loop::KeepAlive::reset() noexcept {
  if (!loop_) return;
  Loop* loop = std::exchange(loop_, nullptr);
  auto inbox = loop->inbox_;  // the wake must not race with the loop exiting and dying
  loop->keep_alives_.fetch_sub(1, std::memory_order_acq_rel);
  inbox->wake();
}

void* Loop::find_local(const void* key) const noexcept {
  for (const LocalSlot& slot : locals_) {
    if (slot.key == key) return slot.object;
  }
  return nullptr;
}

void Loop::destroy_locals() noexcept {
  while (!locals_.empty()) {  // newest first: a later local may use an earlier one
    const LocalSlot slot = locals_.back();
    locals_.pop_back();
    slot.destroy(slot.object);
  }
}

}  // namespace weft
