#include "core/fence.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace weft::detail {

namespace {

bool register_membarrier() noexcept {
  const long supported = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (supported < 0 || !(supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return false;
  return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

}  // namespace

bool membarrier_available() noexcept {
  static const bool available = register_membarrier();
  return available;
}

void heavy_fence() noexcept {
  if (!membarrier_available()) {
    full_fence();
    return;
  }
  // Registered, so the light side is only a compiler barrier: a failure here would lose
  // wake-ups, and the kernel documents none after a successful registration.
  if (::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
    std::fputs("weft: membarrier failed after registration\n", stderr);
    std::abort();
  }
}

}  // namespace weft::detail
