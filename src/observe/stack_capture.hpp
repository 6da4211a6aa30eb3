// Capturing another thread's stack: a dedicated signal whose handler (async-signal-safe)
// fills one preallocated area with backtrace() frames and a copy of the loop's running
// label; symbolization happens later, on the caller's thread.
#pragma once

#include <weft/loop_probe.hpp>

#include <pthread.h>

#include <chrono>
#include <string>
#include <vector>

namespace weft::observe::detail {

struct CapturedStack {
  std::string label;                // the loop's label at the moment of the signal
  std::uint64_t progress = 0;       // the loop's progress counter then
  std::vector<std::string> frames;  // symbolized, innermost first, the handler removed
};

// Installs the handler for `signum` once per process (idempotent; safe from any thread),
// and warms up backtrace() so its first use inside the handler does not load libgcc.
void install_capture_handler(int signum);

// Signals `thread` (which runs the loop of `probe`) and waits up to `timeout` for the
// handler. False if it did not answer (the signal is blocked there, or the thread is
// stuck in a state where no handler runs). One capture at a time in the process.
bool capture_stack(pthread_t thread, const LoopProbe& probe, int signum,
                   std::chrono::milliseconds timeout, std::size_t max_frames, CapturedStack& out);

// For each address "module+0xoffset" (its offset in the loaded object), or
// "symbol+0xoff (module+0xoffset)" when dladdr names it (demangled); never the absolute
// address or the object's path, which would leak the memory layout where stacks are shown.
std::vector<std::string> symbolize(void* const* frames, int count);

}  // namespace weft::observe::detail
