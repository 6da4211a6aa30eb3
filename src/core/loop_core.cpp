#include "core/loop_core.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace weft::detail {

LoopCore::LoopCore(Loop& l) : loop(l) {
  std::error_code ec = backend_.add(weft::detail::LoopAccess::inbox(loop).fd(), io_event::readable);
  if (ec) throw std::system_error(ec, "registering the loop's wake-up fd");
}

LoopCore::~LoopCore() {
  while (signals_) signal_stop(*signals_);
  if (signal_pipe_[0] >= 0) {
    ::close(signal_pipe_[0]);
    ::close(signal_pipe_[1]);
  }
}

// ---- timers ------------------------------------------------------------------------

void LoopCore::start_timer(Timer& t, TimePoint due) {
  t.due_ = due;
  t.seq_ = timers_.next_seq();
  if (t.is_active()) {
    timers_.update(&t);
  } else {
    timers_.push(&t);
    t.set_active(true);
  }
}

void LoopCore::stop_timer(Timer& t) noexcept {
  if (!t.is_active()) return;
  timers_.remove(&t);
  t.set_active(false);
}

void LoopCore::run_timers() {
  const TimePoint now = loop.now();
  while (!timers_.empty() && timers_.top_due() <= now) {
    Timer* t = timers_.top();
    if (t->repeat_ > Duration::zero()) {
      start_timer(*t, now + t->repeat_);
    } else {
      stop_timer(*t);
    }
    firing_timer = t;
    Function<void()> cb = std::move(t->cb_);  // the callback may destroy or restart t
    loop.call(t->label() ? t->label() : "timer", cb);
    if (firing_timer == t && !t->cb_ && !t->is_closing() && !t->is_closed()) t->cb_ = std::move(cb);
    firing_timer = nullptr;
  }
}

// ---- I/O -----------------------------------------------------------------------------

LoopCore::WatchSlot* LoopCore::watch_slot(int fd) {
  if (fd < 0) return nullptr;
  const auto i = static_cast<std::size_t>(fd);
  if (i >= watchers_.size()) watchers_.resize(std::max<std::size_t>(i + 1, watchers_.size() * 2));
  return &watchers_[i];
}

std::error_code LoopCore::watch(IoWatcher& w, unsigned events) {
  if (w.registered_) return backend_.modify(w.fd_, events);
  WatchSlot* slot = watch_slot(w.fd_);
  if (!slot) return std::make_error_code(std::errc::bad_file_descriptor);
  if (std::error_code ec = backend_.add(w.fd_, events)) return ec;
  *slot = {&w, nullptr};
  w.registered_ = true;
  return {};
}

void LoopCore::unwatch(IoWatcher& w) noexcept {
  if (!w.registered_) return;
  backend_.remove(w.fd_);
  watchers_[static_cast<std::size_t>(w.fd_)] = {};
  w.registered_ = false;
}

std::error_code LoopCore::watch_in_set(IoWatcherSet& set, int fd, unsigned events) {
  WatchSlot* slot = watch_slot(fd);
  if (!slot) return std::make_error_code(std::errc::bad_file_descriptor);
  if (slot->watcher || slot->set) return std::make_error_code(std::errc::file_exists);
  if (std::error_code ec = backend_.add(fd, events)) return ec;
  *slot = {nullptr, &set};
  return {};
}

bool LoopCore::unwatch_in_set(IoWatcherSet& set, int fd) noexcept {
  if (fd < 0 || static_cast<std::size_t>(fd) >= watchers_.size()) return false;
  WatchSlot& slot = watchers_[static_cast<std::size_t>(fd)];
  if (slot.set != &set) return false;
  backend_.remove(fd);
  slot = {};
  return true;
}

// Rare (a set closed with descriptors in it): one pass over the table.
void LoopCore::unwatch_set(IoWatcherSet& set) noexcept {
  for (std::size_t fd = 0; fd < watchers_.size(); ++fd) {
    if (watchers_[fd].set != &set) continue;
    backend_.remove(static_cast<int>(fd));
    watchers_[fd] = {};
  }
}

void LoopCore::dispatch_io(int timeout_ms) {
  constexpr int kBatch = 256;
  ReadyEvent ready[kBatch];
  if (timeout_ms != 0) loop.probe_.enter_poll(LoopProbe::to_ns(std::chrono::steady_clock::now()));
  const int n = backend_.wait(timeout_ms, ready, kBatch);
  if (n == 0 && timeout_ms == 0) return;  // nothing happened and no time was spent waiting
  loop.update_time();
  if (timeout_ms != 0) loop.probe_.leave_poll(LoopProbe::to_ns(loop.now()));
  for (int i = 0; i < n; ++i) {
    const int fd = ready[i].fd;
    if (fd == weft::detail::LoopAccess::inbox(loop).fd()) {
      weft::detail::LoopAccess::inbox(loop).consume_wakeup();  // Loop::poll takes the posts
    } else if (fd == signal_pipe_[0]) {
      read_signal_pipe();
    } else if (static_cast<std::size_t>(fd) < watchers_.size()) {
      dispatch_ready(fd, ready[i].events);
    }
  }
}

// The slot is read when the event is handled: an earlier callback of the same batch may
// have changed or emptied it (a set's descriptor gets exactly what it registered, plus
// hangup and error, so it needs no filter).
void LoopCore::dispatch_ready(int fd, unsigned ready) {
  const WatchSlot slot = watchers_[static_cast<std::size_t>(fd)];
  if (IoWatcherSet* set = slot.set) {
    loop.call(set->label() ? set->label() : "io", [set, fd, ready] { set->cb_(fd, ready); });
  } else if (IoWatcher* w = slot.watcher) {
    const unsigned events = ready & (w->events_ | io_event::hangup | io_event::error);
    if (events) loop.call(w->label() ? w->label() : "io", [w, events] { w->cb_(events); });
  }
}

// ---- phase hooks ---------------------------------------------------------------------

template <>
PhaseList<Phase::idle>& LoopCore::phase_list<Phase::idle>() noexcept {
  return idle_;
}
template <>
PhaseList<Phase::prepare>& LoopCore::phase_list<Phase::prepare>() noexcept {
  return prepare_;
}
template <>
PhaseList<Phase::check>& LoopCore::phase_list<Phase::check>() noexcept {
  return check_;
}

template <Phase P>
void LoopCore::phase_start(PhaseHandle<P>& h) noexcept {
  auto& list = phase_list<P>();
  h.prev_in_phase_ = nullptr;
  h.next_in_phase_ = list.head;
  if (list.head) list.head->prev_in_phase_ = &h;
  list.head = &h;
}

template <Phase P>
void LoopCore::phase_stop(PhaseHandle<P>& h) noexcept {
  auto& list = phase_list<P>();
  if (list.cursor == &h) list.cursor = h.next_in_phase_;  // stopped while its phase runs
  if (h.prev_in_phase_) {
    h.prev_in_phase_->next_in_phase_ = h.next_in_phase_;
  } else {
    list.head = h.next_in_phase_;
  }
  if (h.next_in_phase_) h.next_in_phase_->prev_in_phase_ = h.prev_in_phase_;
  h.prev_in_phase_ = h.next_in_phase_ = nullptr;
}

template <Phase P>
void LoopCore::run_phase() {
  auto& list = phase_list<P>();
  for (list.cursor = list.head; list.cursor;) {
    PhaseHandle<P>* h = list.cursor;
    list.cursor = h->next_in_phase_;
    loop.call(h->label() ? h->label() : "phase handle", [h] { h->cb_(); });
  }
}

template void LoopCore::phase_start(PhaseHandle<Phase::idle>&) noexcept;
template void LoopCore::phase_start(PhaseHandle<Phase::prepare>&) noexcept;
template void LoopCore::phase_start(PhaseHandle<Phase::check>&) noexcept;
template void LoopCore::phase_stop(PhaseHandle<Phase::idle>&) noexcept;
template void LoopCore::phase_stop(PhaseHandle<Phase::prepare>&) noexcept;
template void LoopCore::phase_stop(PhaseHandle<Phase::check>&) noexcept;
template void LoopCore::run_phase<Phase::idle>();
template void LoopCore::run_phase<Phase::prepare>();
template void LoopCore::run_phase<Phase::check>();

// ---- spawned coroutines ---------------------------------------------------------------

void LoopCore::add_spawned(SpawnedNode& n) noexcept {
  n.prev = nullptr;
  n.next = spawned_;
  if (spawned_) spawned_->prev = &n;
  spawned_ = &n;
}

void LoopCore::remove_spawned(SpawnedNode& n) noexcept {
  if (n.prev) {
    n.prev->next = n.next;
  } else if (spawned_ == &n) {
    spawned_ = n.next;
  }
  if (n.next) n.next->prev = n.prev;
  n.prev = n.next = nullptr;
}

void LoopCore::destroy_spawned() noexcept {
  while (SpawnedNode* n = spawned_) {
    remove_spawned(*n);
    n->frame.destroy();  // runs the awaiters' destructors: timers stop, jobs are abandoned
  }
}

}  // namespace weft::detail
