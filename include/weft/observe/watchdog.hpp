// Watchdog: a thread that notices when a loop has been inside one callback for longer
// than a threshold, and when a pool job runs past its own threshold.
//
// Detection: every check_interval the thread reads the loop's LoopProbe. If the loop is
// running (not polling, not stopped) and its progress counter has not moved since the
// thread first saw that value, one callback has been running at least that long (a lower
// bound, at most one interval short). Past `threshold` the stall begins: the thread sends
// `signal` to the loop thread (pthread_kill), whose handler — async-signal-safe, writing
// only into a preallocated area — copies the running label and the raw stack (backtrace());
// the watchdog thread then symbolizes it (dladdr + abi::__cxa_demangle; link executables
// with -rdynamic / ENABLE_EXPORTS for names of functions in the executable itself). Each
// frame is its module and the offset in it, never an absolute address or a path: stacks
// are published by the /_weft/ endpoints, and addresses would reveal the layout. When
// progress resumes, the stall ends with its total.
//
// Log lines (to stderr unless WatchdogOptions::log_sink is set), e.g.:
//   weft.watchdog: loop stall #1: GET /burn running for 104 ms (threshold 100 ms); stack:
// (with WatchdogOptions::loop_name set: "loop stall #1 on loop 1 (weft-http-1): GET ...")
//     #0 burn_cpu_for(std::chrono::duration<long, std::ratio<1l, 1000l> >)+0x3f
//     (http_watchdog_test+0x2a1f3) #1 http_watchdog_test+0x2a4c0          (no exported symbol
//     there)
//     ...
//   weft.watchdog: loop stall #1 ended after 301 ms: GET /burn
//   weft.watchdog: pool job #2 (cpu) render running for 5012 ms (threshold 5000 ms)
//   weft.watchdog: pool job #2 (cpu) render ended after about 6020 ms
//
// Threads and lifetime: construct and destroy on any thread; the loop (and its Runtime)
// must outlive the watchdog. One watchdog per loop (several loops: one each). Only one
// stack capture runs at a time in the process. The loop thread must not block `signal`;
// its handler is installed once per process (SA_RESTART) and stays. A stalled callback
// that is itself blocked in a call SA_RESTART does not restart (poll, epoll_wait, select,
// nanosleep) sees EINTR once per captured stall.
#pragma once

#include <weft/clock.hpp>
#include <functional>
#include <weft/pool.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weft {
class Loop;
}

namespace weft::observe {

struct WatchdogOptions {
  std::chrono::nanoseconds threshold = std::chrono::milliseconds(100);
  // How often the thread looks; 0: threshold / 2, clamped to [1 ms, 50 ms] (a stall is
  // reported between threshold and threshold + 2 intervals after its callback began).
  std::chrono::nanoseconds check_interval{0};
  // Pool jobs running longer than this are reported; 0 disables.
  std::chrono::nanoseconds job_threshold = std::chrono::seconds(5);
  std::size_t keep_last = 16;  // stall reports kept for recent()
  bool capture_stack = true;
  int signal = 0;                                  // 0: SIGRTMIN + 5
  std::chrono::milliseconds capture_timeout{200};  // waiting for the handler to answer
  std::size_t max_frames = 48;                     // at most 128
  // Where log lines go (called on the watchdog thread). Empty: stderr.
  std::function<void(std::string_view line)> log_sink;
  // The watchdog thread works on its own copy of the descriptor table, closed down to
  // 0, 1 and 2 as they were when it started (Linux unshare(CLONE_FILES)): a loop thread
  // that is otherwise alone in its process then keeps the kernel's fast path for
  // descriptor lookups, which a shared table loses (a sleeping thread sharing it cost
  // +1.2 % CPU per request, side by side: docs/BENCHMARKS.md). Not done with a log_sink, which may
  // use any descriptor; false: share the table (e.g. when stderr is redirected with dup2 after the
  // start).
  bool private_fd_table = true;
  // Names the loop in reports and log lines ("loop 1 (weft-http-1)"): a program with
  // several loops has a watchdog per loop. Empty: not named (a program with one loop).
  std::string loop_name;
};

struct StallReport {
  enum class Kind : unsigned char { loop_callback, pool_job };
  Kind kind = Kind::loop_callback;
  std::uint64_t id = 0;                           // 1, 2, ... per watchdog and kind
  std::string label;                              // what was running ("GET /users/:id", "timer")
  std::string loop;                               // WatchdogOptions::loop_name of its watchdog
  WorkClass work_class = WorkClass::fs;           // pool jobs
  std::chrono::system_clock::time_point began{};  // wall clock, for display
  std::chrono::nanoseconds duration{};            // so far while ongoing, else the total
  bool ongoing = true;
  std::vector<std::string> stack;  // symbolized frames, innermost first
};

struct WatchdogCounters {
  std::uint64_t loop_stalls = 0;    // stalls detected
  std::uint64_t loop_stall_ns = 0;  // their summed durations (ended ones)
  std::uint64_t slow_jobs = 0;      // pool jobs past job_threshold
  bool stalled_now = false;
};

class Watchdog {
 public:
  explicit Watchdog(Loop& loop, WatchdogOptions options = {});
  ~Watchdog();  // stops and joins the thread
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Any thread. Oldest first; the ongoing stall (if any) is included.
  std::vector<StallReport> recent() const;
  WatchdogCounters counters() const;
  const WatchdogOptions& options() const noexcept;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace weft::observe
