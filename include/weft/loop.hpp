// Loop: one event loop per thread, Node.js's phases, libuv's lifetime rules.
//
// Each iteration runs, in order:
//   1. timers          — due timers, earliest deadline first, equal deadlines in start order
//   2. pending         — callbacks deferred with defer() (completions that must not run
//                        inside the call that started their operation)
//   3. idle, prepare   — Idle and Prepare handles
//   4. poll            — waits for I/O (epoll) unless something is ready to run; runs I/O
//                        callbacks and everything posted from other threads (pool completions)
//   5. check           — immediates (set_immediate) and Check handles
//   6. close           — on_close callbacks of handles closed during the iteration
// After every callback the microtask queue is drained (queue_microtask; coroutine
// resumptions go there), like process.nextTick and promise jobs in Node.
//
// Threads: a Loop belongs to the thread that runs it. post() and stop() are the only
// members callable from any thread; debug builds abort on any other cross-thread call.
#pragma once

#include <weft/clock.hpp>
#include <weft/error.hpp>
#include <weft/function.hpp>
#include <weft/handle.hpp>
#include <weft/loop_probe.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace weft {

class Runtime;
class Timer;
class IoWatcher;
namespace detail {
class LoopCore;
class Inbox;
struct LoopAccess;
}  // namespace detail

enum class RunMode {
  until_done,  // run until nothing referenced is alive (uv_run's DEFAULT)
  once,        // one iteration, waiting for I/O if there is nothing else to do
  nowait,      // one iteration, never waiting
};

struct LoopOptions {
  // The pools this loop submits blocking work to; several loops may share one.
  // Null: the loop creates its own Runtime (threads start on first use).
  std::shared_ptr<Runtime> runtime;
  // Null: the real monotonic clock. Not owned; must outlive the loop.
  Clock* clock = nullptr;
  // How long a loop that has just run posted functions keeps looking for more before it
  // sleeps in its poll. For a loop fed by a steady stream of posts from threads that have a
  // core of their own: the stream then costs no sleep and no wake-up system call per batch.
  // Off by default: where threads share cores (pool threads beside their loop, a busy
  // machine) the spin takes the CPU the posting thread needs (measured: pool round trips
  // 8x slower on a loaded 2-core machine with a 20 µs spin).
  std::chrono::nanoseconds inbox_spin{0};
};

// One open handle, as reported by Loop::open_handles().
struct HandleInfo {
  HandleKind kind;
  bool active;
  bool referenced;
  bool closing;
  const char* label;
};

class Loop {
 public:
  Loop();
  explicit Loop(LoopOptions options);
  // Destroys unfinished spawned coroutines, drops queued pool jobs (their completions
  // never run), and detaches handles still open (destroying them later is safe; using
  // them is not). Call close() first to see whether anything was left open.
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Runs the loop in the given mode. Returns true if something referenced is still
  // alive (more work would follow), false when the loop is done.
  bool run(RunMode mode = RunMode::until_done);
  // Makes run() return after the current iteration. Thread-safe.
  void stop() noexcept;
  // Releases the loop's resources if nothing is open: errc::loop_busy otherwise
  // (open handles, pending requests). A closed loop must not be run again.
  std::error_code close();

  // Monotonic time, read once per iteration. update_time() refreshes it.
  TimePoint now() const noexcept { return now_; }
  void update_time() noexcept;

  // Runs fn on the loop thread soon. Thread-safe; the only cross-thread entry point.
  // A post that has arrived is always delivered before run() returns; but a loop with
  // nothing else alive does not wait for posts that may come: a thread that will post
  // later holds a KeepAlive while it may still post. Functions posted by one thread run
  // in the order posted; functions posted by different threads run in no particular order
  // (each thread has its own queue into the loop, so a post takes no lock).
  void post(Function<void()> fn);

  // Microtasks run after the current callback, before the next one.
  void queue_microtask(Function<void()> fn);
  // Runs fn in the check phase of this iteration (or the next one when called from the
  // check phase itself). Keeps the loop alive until it ran.
  void set_immediate(Function<void()> fn);
  // Runs fn in the next pending phase. Used for completions that would otherwise be
  // delivered inside the call that started their operation. Keeps the loop alive.
  void defer(Function<void()> fn);

  // Keeps the loop alive while held; may be created on the loop thread and released on
  // any thread (release wakes the loop).
  class KeepAlive {
   public:
    KeepAlive() = default;
    explicit KeepAlive(Loop& loop);
    KeepAlive(KeepAlive&& other) noexcept : loop_(std::exchange(other.loop_, nullptr)) {}
    KeepAlive& operator=(KeepAlive&& other) noexcept;
    ~KeepAlive() { reset(); }
    void reset() noexcept;

   private:
    Loop* loop_ = nullptr;
  };

  // Exceptions escaping a callback never unwind through the loop: they are handed to
  // this handler (default: print the message to stderr and std::terminate, as Node exits
  // on an uncaught exception).
  void set_uncaught_exception_handler(Function<void(std::exception_ptr)> handler);
  void report_uncaught(std::exception_ptr e) noexcept;

  Runtime& runtime() const noexcept { return *runtime_; }
  const std::shared_ptr<Runtime>& runtime_ptr() const noexcept { return runtime_; }
  Clock& clock() const noexcept { return *clock_; }

  // True if something referenced is alive (the rule run() uses).
  bool alive() const noexcept;
  std::vector<HandleInfo> open_handles() const;
  std::string describe_open_handles() const;

  // The loop whose run() is executing on this thread, or nullptr.
  static Loop* current() noexcept;
  bool on_loop_thread() const noexcept { return std::this_thread::get_id() == owner_; }
  void assert_loop_thread() const noexcept;

  std::uint64_t iteration_count() const noexcept { return iterations_; }

  // Per-loop storage: this loop's T, constructed on first use on the loop thread (from
  // the Loop& when T has that constructor, else by default), destroyed newest first by
  // close() — before it checks that every handle is closed, so a T may own handles — or
  // by ~Loop. For per-loop singletons: the default DNS resolver, a cache. Loop thread only.
  template <class T>
  T& local();

  // What the loop records about itself for observers (weft/observe/); see loop_probe.hpp.
  const LoopProbe& probe() const noexcept { return probe_; }
  // Labels what the loop runs until the scope ends (e.g. "GET /users/:id" around an HTTP
  // handler), for the watchdog. Loop thread only; `label` must outlive the scope.
  // Labels the running callback from here until it returns (e.g. a coroutine handler that
  // a microtask starts). Loop thread only; `label` must outlive the callback.
  void set_running_label(const char* label) noexcept { probe_.swap_label(label); }
  class LabelScope {
   public:
    LabelScope(Loop& loop, const char* label) noexcept
        : probe_(loop.probe_), previous_(probe_.swap_label(label)) {}
    ~LabelScope() { probe_.swap_label(previous_); }
    LabelScope(const LabelScope&) = delete;
    LabelScope& operator=(const LabelScope&) = delete;

   private:
    LoopProbe& probe_;
    const char* previous_;
  };

 private:
  friend class Handle;
  friend class detail::LoopCore;
  friend struct detail::LoopAccess;

  // Runs f as a loop callback: an escaping exception goes to the uncaught handler, then
  // the microtask queue is drained. For the library's layers: detail::LoopAccess::call.
  template <class F>
  void call(const char* label, F&& f) noexcept {
    probe_.enter_callback(label);
    try {
      f();
    } catch (...) {
      report_uncaught(std::current_exception());
    }
    if (microtasks_queued_) drain_microtasks();  // inline test: the common case has none
  }

  void iterate(RunMode mode);
  void run_posted();
  void run_pending();
  void run_immediates();
  void run_closing();
  void poll(bool may_block);
  bool ready_to_sleep();
  bool spin_for_posts();
  int poll_timeout_ms(bool may_block);
  bool has_ready_work() const noexcept;
  void invoke(const char* label, Function<void()>& fn) noexcept;
  void drain_microtasks() noexcept;
  void destroy_spawned() noexcept;
  void detach_handles() noexcept;
  void link(Handle* h) noexcept;
  void unlink(Handle* h) noexcept;
  void enqueue_closing(Handle* h) noexcept;
  void on_handle_active_changed(Handle& h, bool active) noexcept;
  void on_handle_ref_changed(Handle& h, bool referenced) noexcept;

  std::unique_ptr<SteadyClock> own_clock_;
  Clock* clock_;
  std::shared_ptr<Runtime> runtime_;
  std::shared_ptr<detail::Inbox> inbox_;
  std::chrono::nanoseconds inbox_spin_;
  std::unique_ptr<detail::LoopCore> core_;
  TimePoint now_{};
  std::thread::id owner_;
  Handle* handles_ = nullptr;
  Handle* closing_head_ = nullptr;
  Handle* closing_tail_ = nullptr;
  std::size_t active_ref_handles_ = 0;
  std::size_t active_requests_ = 0;
  std::atomic<std::size_t> keep_alives_{0};
  std::atomic<bool> stop_requested_{false};
  std::uint64_t iterations_ = 0;
  LoopProbe probe_;
  bool closed_ = false;
  bool time_fresh_ = false;         // now_ was read at the start of run(), nothing ran since
  bool microtasks_queued_ = false;  // queue_microtask() since the last drain
  bool inbox_traffic_ = false;      // the last take found posts: spin before sleeping

  struct LocalSlot {
    const void* key;  // one per type: the address of local_key<T>'s variable
    void* object;
    void (*destroy)(void*) noexcept;
  };
  template <class T>
  static const void* local_key() noexcept {
    static const char key = 0;
    return &key;
  }
  void* find_local(const void* key) const noexcept;
  void destroy_locals() noexcept;
  std::vector<LocalSlot> locals_;
};

template <class T>
T& Loop::local() {
  assert_loop_thread();
  if (void* found = find_local(local_key<T>())) return *static_cast<T*>(found);
  T* object;
  if constexpr (std::is_constructible_v<T, Loop&>) {
    object = new T(*this);
  } else {
    object = new T();
  }
  locals_.push_back({local_key<T>(), object, [](void* p) noexcept { delete static_cast<T*>(p); }});
  return *object;
}

namespace detail {
// The library's own way into a Loop's internals (core, net, db; what a handle or a
// backend needs and an application never does), kept out of Loop's public interface.
struct LoopAccess {
  // Runs f as a loop callback (Loop::call): an escaping exception goes to the uncaught
  // handler, then the microtask queue is drained. `label` is published as what is running.
  template <class F>
  static void call(Loop& loop, F&& f) noexcept {
    loop.call("callback", static_cast<F&&>(f));
  }
  template <class F>
  static void call(Loop& loop, const char* label, F&& f) noexcept {
    loop.call(label, static_cast<F&&>(f));
  }
  static LoopCore& core(Loop& loop) noexcept { return *loop.core_; }
  // A request (a pool job in flight) keeps the loop alive like an active handle.
  static void add_request(Loop& loop) noexcept { ++loop.active_requests_; }
  static void remove_request(Loop& loop) noexcept { --loop.active_requests_; }
  static Inbox& inbox(const Loop& loop) noexcept { return *loop.inbox_; }
  static const std::shared_ptr<Inbox>& inbox_ptr(const Loop& loop) noexcept { return loop.inbox_; }
};
}  // namespace detail

}  // namespace weft
