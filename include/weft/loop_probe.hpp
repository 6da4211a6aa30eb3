// LoopProbe: what a loop records about itself for observers (weft/observe/): time idle in
// the poll wait, iterations, active handles by kind, and "what is running now" — a
// progress counter, the label of the running callback and whether the loop is polling.
//
// Cost: the loop writes these with relaxed atomic loads and stores from its own thread
// (one writer), so a record costs what a plain store does; the clock is read only where
// the loop reads it anyway, plus once before each poll wait that may block.
// Readers (a watchdog thread, another loop serving /metrics) may call the const members
// from any thread at any time.
//
// Labels are `const char*` that must stay valid while they are published: string
// literals, a handle's label, or a route's label (which lives as long as its server).
// A reader on another thread must not dereference one; the watchdog copies it on the
// loop thread itself (inside its signal handler), where it is valid.
#pragma once

#include <weft/handle.hpp>

#include <pthread.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace weft {

inline constexpr std::size_t kHandleKindCount = static_cast<std::size_t>(HandleKind::other) + 1;

enum class LoopActivity : std::uint8_t {
  stopped,  // not inside run()
  polling,  // waiting in the poll backend (idle)
  running,  // running callbacks or its own bookkeeping
};

// A copy of a probe's counters; plain values, mergeable across loops.
struct LoopProbeSnapshot {
  std::uint64_t iterations = 0;
  std::uint64_t idle_ns = 0;     // in blocking poll waits, or outside run()
  std::uint64_t elapsed_ns = 0;  // since the probe started (the loop was created)
  std::array<std::uint64_t, kHandleKindCount> active_handles{};  // by HandleKind
  void merge(const LoopProbeSnapshot& o) noexcept;
};

class LoopProbe {
 public:
  LoopProbe() noexcept;

  // ---- the loop thread (the one writer) --------------------------------------------
  void enter_callback(const char* label) noexcept {
    bump(progress_);
    label_.store(label, std::memory_order_relaxed);
  }
  // Replaces the label of the running callback (e.g. the HTTP route inside an I/O
  // callback); returns the one it replaced, to be put back.
  const char* swap_label(const char* label) noexcept {
    const char* old = label_.load(std::memory_order_relaxed);
    label_.store(label, std::memory_order_relaxed);
    return old;
  }
  void enter_poll(std::int64_t now_ns) noexcept;
  void leave_poll(std::int64_t now_ns) noexcept;
  void enter_run(std::int64_t now_ns) noexcept;
  void leave_run(std::int64_t now_ns) noexcept;
  void count_iteration() noexcept {
    bump(iterations_);
    bump(progress_);
  }
  void handle_active(HandleKind kind, bool active) noexcept {
    auto& n = active_[static_cast<std::size_t>(kind)];
    n.store(n.load(std::memory_order_relaxed) + (active ? 1 : std::uint64_t(-1)),
            std::memory_order_relaxed);
  }

  // ---- any thread -------------------------------------------------------------------
  // Changes whenever a callback starts or an iteration ends: unchanged over an interval
  // while activity() is `running` means one callback ran for the whole interval.
  std::uint64_t progress() const noexcept { return progress_.load(std::memory_order_acquire); }
  LoopActivity activity() const noexcept { return activity_.load(std::memory_order_acquire); }
  // The loop thread's label pointer (see the note above: do not dereference elsewhere).
  const char* label_unsafe() const noexcept { return label_.load(std::memory_order_relaxed); }
  // The thread running the loop (valid once run() was entered).
  pthread_t thread() const noexcept { return thread_.load(std::memory_order_acquire); }
  bool has_thread() const noexcept { return has_thread_.load(std::memory_order_acquire); }
  LoopProbeSnapshot snapshot(std::int64_t now_ns) const noexcept;

  static std::int64_t to_ns(std::chrono::steady_clock::time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }

 private:
  static void bump(std::atomic<std::uint64_t>& a) noexcept {
    a.store(a.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  void add_idle(std::int64_t from, std::int64_t to) noexcept;

  std::atomic<std::uint64_t> progress_{0};
  std::atomic<const char*> label_{nullptr};
  std::atomic<LoopActivity> activity_{LoopActivity::stopped};
  std::atomic<std::int64_t> idle_since_ns_{0};  // start of the current poll wait / stop
  std::atomic<std::uint64_t> idle_ns_{0};
  std::atomic<std::uint64_t> iterations_{0};
  std::int64_t started_ns_;
  std::array<std::atomic<std::uint64_t>, kHandleKindCount> active_{};
  std::atomic<pthread_t> thread_{};
  std::atomic<bool> has_thread_{false};
};

}  // namespace weft
