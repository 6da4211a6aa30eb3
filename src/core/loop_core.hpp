// LoopCore: the loop's private machinery (poll backend, timer heap, queues, hooks).
// Kept out of the public header so nothing above core sees epoll or the queues.
#pragma once

#include "core/inbox.hpp"
#include "core/poll_backend.hpp"
#include "core/timer_heap.hpp"

#include <weft/io_watcher.hpp>
#include <weft/loop.hpp>
#include <weft/phase_handle.hpp>
#include <weft/signal.hpp>

#include <coroutine>
#include <deque>
#include <vector>

namespace weft::detail {

// A spawned coroutine's root frame, linked into its loop so ~Loop can destroy it.
struct SpawnedNode {
  SpawnedNode* prev = nullptr;
  SpawnedNode* next = nullptr;
  std::coroutine_handle<> frame;
};

template <Phase P>
struct PhaseList {
  PhaseHandle<P>* head = nullptr;
  PhaseHandle<P>* cursor = nullptr;  // next to run while the phase is running
};

class LoopCore {
 public:
  explicit LoopCore(Loop& loop);
  ~LoopCore();

  // timers
  void start_timer(Timer& t, TimePoint due);
  void stop_timer(Timer& t) noexcept;
  void refresh_timer(Timer& t, TimePoint due) noexcept;
  void run_timers();
  bool has_timers() const noexcept { return !timers_.empty(); }
  TimePoint next_timer_due() const noexcept { return timers_.top_due(); }
  std::size_t timer_count() const noexcept { return timers_.size(); }

  // I/O watchers
  std::error_code watch(IoWatcher& w, unsigned events);
  void unwatch(IoWatcher& w) noexcept;
  std::error_code watch_in_set(IoWatcherSet& set, int fd, unsigned events);
  bool unwatch_in_set(IoWatcherSet& set, int fd) noexcept;  // false: set did not watch fd
  void unwatch_set(IoWatcherSet& set) noexcept;             // every fd of the set
  void dispatch_io(int timeout_ms);
  void dispatch_ready(int fd, unsigned events);

  // phase hooks
  template <Phase P>
  void phase_start(PhaseHandle<P>& h) noexcept;
  template <Phase P>
  void phase_stop(PhaseHandle<P>& h) noexcept;
  template <Phase P>
  void run_phase();
  bool has_idle() const noexcept { return idle_.head != nullptr; }

  // signals
  std::error_code signal_start(Signal& s, int signum);
  void signal_stop(Signal& s) noexcept;

  // spawned coroutines
  void add_spawned(SpawnedNode& n) noexcept;
  void remove_spawned(SpawnedNode& n) noexcept;
  void destroy_spawned() noexcept;

  Loop& loop;
  std::deque<Function<void()>> microtasks;
  std::vector<Function<void()>> pending;
  std::vector<Function<void()>> pending_running;
  std::vector<Function<void()>> immediates;
  std::vector<Function<void()>> immediates_running;
  Function<void(std::exception_ptr)> uncaught_handler;
  Timer* firing_timer = nullptr;  // cleared if the firing timer is destroyed by its callback
  bool draining_microtasks = false;

 private:
  template <Phase P>
  PhaseList<P>& phase_list() noexcept;
  void read_signal_pipe();
  struct WatchSlot {  // at most one of the two
    IoWatcher* watcher = nullptr;
    IoWatcherSet* set = nullptr;
  };
  WatchSlot* watch_slot(int fd);  // grows the table; null if fd < 0
  void deliver_signal(int signum);

  PollBackend backend_;
  TimerHeap timers_;
  std::vector<WatchSlot> watchers_;  // indexed by fd
  PhaseList<Phase::idle> idle_;
  PhaseList<Phase::prepare> prepare_;
  PhaseList<Phase::check> check_;
  Signal* signals_ = nullptr;
  int signal_pipe_[2] = {-1, -1};
  int signal_slot_ = -1;
  SpawnedNode* spawned_ = nullptr;
};

}  // namespace weft::detail
