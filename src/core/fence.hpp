// Asymmetric fences for a fast side and a rare side of a store-load (Dekker) handshake,
// e.g. producers posting into an inbox (fast: every post) and the loop arming it before a
// sleep (rare). With membarrier(2)'s private expedited command the fast side needs only a
// compiler barrier and the rare side makes every running thread of the process pass a full
// barrier; where the kernel refuses membarrier, both sides are full fences. The choice is made
// once per process, so both sides always agree.
#pragma once

#include <atomic>

namespace weft::detail {

#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif

// A full store-load barrier. GCC's ThreadSanitizer rejects atomic_thread_fence; there a
// sequentially consistent read-modify-write (a locked instruction on x86, a full barrier in
// hardware) stands in.
inline void full_fence() noexcept {
#ifdef WEFT_TSAN
  static std::atomic<int> word{0};
  word.exchange(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

bool membarrier_available() noexcept;

inline void light_fence() noexcept {
  if (membarrier_available()) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    full_fence();
  }
}

void heavy_fence() noexcept;

}  // namespace weft::detail
