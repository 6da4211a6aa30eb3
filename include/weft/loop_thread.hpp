// LoopThread: a thread that owns and runs a Loop — the one way weft starts loop threads
// (the HTTP server's extra loops, weft-serve's workers).
//
//   weft::LoopThread worker({.name = "api-1", .runtime = loop.runtime_ptr()});
//   worker.post([] { /* on the worker's loop */ });
//   worker.stop(std::chrono::seconds(5));   // graceful: shutdown hooks, then what is left
//   worker.join();
//
// Start: `setup` runs first on the new thread, before the loop runs (it may drive the loop
// itself, e.g. run_until_complete(thread.loop(), open_things())); the constructor returns
// once the loop runs after it. If setup throws, the loop ends (with a zero deadline), the
// thread is joined and the constructor rethrows. One start handshake (a mutex and a
// condition variable: TSan sees them, unlike std::promise).
// Life: the loop runs, even with nothing referenced, until stop(). stop(deadline) runs the
// shutdown hooks on the loop (in the order added), then lets the loop finish what is
// referenced (close callbacks, queued posts, pool completions), stopping it at the
// deadline at the latest; then the loop's locals and the Loop are destroyed on the thread.
// Threads: post(), stop() and join() are thread-safe; loop() is for code on the loop and
// for reading its identity; on_shutdown() from the loop thread (e.g. inside setup).
// The destructor stops with a zero deadline and joins.
#pragma once

#include <weft/function.hpp>
#include <weft/loop.hpp>
#include <weft/timer.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace weft {

struct LoopThreadOptions {
  // The thread's name (top -H, gdb, watchdog reports); the kernel keeps 15 bytes.
  std::string name = "weft-loop";
  // The pools the loop submits to; null: a Runtime of its own.
  std::shared_ptr<Runtime> runtime;
};

class LoopThread {
 public:
  explicit LoopThread(LoopThreadOptions options = {}, Function<void(LoopThread&)> setup = {});
  ~LoopThread();
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  Loop& loop() const noexcept { return *loop_; }
  const std::string& name() const noexcept { return name_; }

  // Runs fn on the loop. False (fn dropped) once the loop has ended.
  bool post(Function<void()> fn);
  // Runs at stop(), on the loop, before the loop is let finish. Loop thread only.
  void on_shutdown(Function<void()> hook);
  // Runs on the thread once the loop has ended, before the loop's locals and the Loop are
  // destroyed: where objects that hold the loop's handles are destroyed. Loop thread only.
  void on_exit(Function<void()> hook);
  // Graceful stop (see above). Idempotent, except that a later call with an earlier
  // deadline brings the end closer (stop(zero) after a long graceful stop: stop now);
  // Duration::max(): no deadline.
  void stop(Duration deadline = Duration::max());
  void join();

 private:
  struct StartGate;
  void run(Function<void(LoopThread&)>& setup, StartGate& gate);
  void begin_stop(Duration deadline);
  void end() noexcept;

  std::string name_;
  std::shared_ptr<Runtime> runtime_;
  Loop* loop_ = nullptr;  // lives on the thread's stack from start to end
  std::mutex mutex_;      // guards running_ for post()/stop() against the thread's end
  bool running_ = false;
  // Loop thread only:
  std::vector<Function<void()>> shutdown_hooks_, exit_hooks_;
  std::unique_ptr<Loop::KeepAlive> keep_;  // held until stop()
  std::unique_ptr<Timer> deadline_;        // stops the loop at stop()'s deadline
  TimePoint deadline_due_{};
  std::thread thread_;
};

}  // namespace weft
