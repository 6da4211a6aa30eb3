#include "observe/stack_capture.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace weft::observe::detail {
namespace {

constexpr int kMaxFrames = 128;
constexpr std::size_t kLabelMax = 160;

// The one capture area. state: idle -> requested (watchdog) -> writing -> done (handler)
// -> idle (watchdog); a watchdog that gives up moves requested -> idle, and the handler
// then finds nothing to do. Every field the handler writes is an atomic (relaxed, ordered
// by `state`): the handler's accesses are then visible as such to TSan too, which does
// not treat a signal handler's release store as ordering its plain writes.
enum : int { kIdle, kRequested, kWriting, kDone };
struct CaptureArea {
  std::atomic<int> state{kIdle};
  std::atomic<const LoopProbe*> probe{nullptr};
  std::atomic<int> max_frames{kMaxFrames};
  std::atomic<void*> frames[kMaxFrames];
  std::atomic<int> depth{0};
  std::atomic<char> label[kLabelMax];
  std::atomic<std::uint64_t> progress{0};
  std::atomic<void*> interrupted_pc{nullptr};  // where the signal interrupted the loop thread
};
CaptureArea g_area;
std::mutex g_capture_mu;  // one capture at a time

// Runs on the loop thread, interrupting the stalled callback. Only async-signal-safe work:
// atomics, backtrace() (libgcc was loaded beforehand) and a bounded copy of the label,
// which is valid here because the loop thread itself published it.
void* pc_of(void* context) {
  const auto* uc = static_cast<const ucontext_t*>(context);
  if (!uc) return nullptr;
#if defined(__x86_64__)
  // NOLINTNEXTLINE(performance-no-int-to-ptr): the saved register holds a code address
  return reinterpret_cast<void*>(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  return reinterpret_cast<void*>(uc->uc_mcontext.pc);
#else
  return nullptr;
#endif
}

void on_capture_signal(int, siginfo_t*, void* context) {
  const int saved_errno = errno;
  int expected = kRequested;
  if (g_area.state.compare_exchange_strong(expected, kWriting, std::memory_order_acq_rel)) {
    constexpr auto relaxed = std::memory_order_relaxed;
    const LoopProbe* probe = g_area.probe.load(relaxed);
    g_area.interrupted_pc.store(pc_of(context), relaxed);
    void* frames[kMaxFrames];  // on the handler's stack
    const int depth = ::backtrace(frames, g_area.max_frames.load(relaxed));
    for (int i = 0; i < depth; ++i) g_area.frames[i].store(frames[i], relaxed);
    g_area.depth.store(depth, relaxed);
    const char* label = probe ? probe->label_unsafe() : nullptr;
    std::size_t n = 0;
    for (; label && label[n] && n + 1 < kLabelMax; ++n) g_area.label[n].store(label[n], relaxed);
    g_area.label[n].store('\0', relaxed);
    g_area.progress.store(probe ? probe->progress() : 0, relaxed);
    g_area.state.store(kDone, std::memory_order_release);
  }
  errno = saved_errno;
}

std::string demangle(const char* name) {
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string result = status == 0 && out ? out : name;
  std::free(out);
  return result;
}

const char* basename_of(const char* path) {
  const char* slash = path ? std::strrchr(path, '/') : nullptr;
  const char* base = slash ? slash + 1 : path;
  return base && *base ? base : "?";
}

// "module+0xoffset", with "symbol+0xoff (module+0xoffset)" when the symbol is known: the
// offset from the object's load address is what addr2line and a debugger take, and unlike
// the address it reveals nothing of the process's layout (ASLR) to whoever reads a
// published stack. An address in no loaded object is "??": never printed as it is.
std::string describe_frame(void* address) {
  Dl_info info{};
  if (!::dladdr(address, &info) || !info.dli_fbase) return "??";
  char where[256];
  std::snprintf(where, sizeof where, "%s+0x%tx", basename_of(info.dli_fname),
                static_cast<char*>(address) - static_cast<char*>(info.dli_fbase));
  if (!info.dli_sname || !info.dli_saddr) return where;
  char offset[32];
  std::snprintf(offset, sizeof offset, "+0x%tx (",
                static_cast<char*>(address) - static_cast<char*>(info.dli_saddr));
  return demangle(info.dli_sname) + offset + where + ")";
}

// The handler's own frames (and a sanitizer's, and the signal trampoline) come first:
// the interrupted code starts at the frame whose address is the interrupted pc.
int first_interrupted_frame(void* const* frames, int count, void* pc) {
  for (int i = 0; pc && i < count; ++i) {
    if (frames[i] == pc) return i;
  }
  return count > 2 ? 2 : 0;  // glibc without sanitizers: handler, trampoline
}

}  // namespace

void install_capture_handler(int signum) {
  static std::mutex mu;
  static std::vector<int> installed;
  std::lock_guard lock(mu);
  for (int s : installed) {
    if (s == signum) return;
  }
  void* warm[4];
  (void)::backtrace(warm, 4);  // loads the unwinder now, not inside the handler
  struct sigaction sa {};
  sa.sa_sigaction = on_capture_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_SIGINFO;
  ::sigaction(signum, &sa, nullptr);
  installed.push_back(signum);
}

std::vector<std::string> symbolize(void* const* frames, int count) {
  std::vector<std::string> out;
  if (count > 0) out.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) out.push_back(describe_frame(frames[i]));
  return out;
}

bool capture_stack(pthread_t thread, const LoopProbe& probe, int signum,
                   std::chrono::milliseconds timeout, std::size_t max_frames, CapturedStack& out) {
  std::lock_guard lock(g_capture_mu);
  g_area.probe.store(&probe, std::memory_order_relaxed);
  g_area.max_frames.store(static_cast<int>(std::min<std::size_t>(max_frames + 8, kMaxFrames)),
                          std::memory_order_relaxed);
  g_area.state.store(kRequested, std::memory_order_release);
  if (::pthread_kill(thread, signum) != 0) {
    g_area.state.store(kIdle, std::memory_order_release);
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (g_area.state.load(std::memory_order_acquire) != kDone) {
    if (std::chrono::steady_clock::now() >= deadline) {
      int expected = kRequested;
      if (g_area.state.compare_exchange_strong(expected, kIdle)) return false;
      // The handler is writing right now: it finishes in microseconds.
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  constexpr auto relaxed = std::memory_order_relaxed;
  void* frames[kMaxFrames];
  const int depth = g_area.depth.load(relaxed);
  for (int i = 0; i < depth; ++i) frames[i] = g_area.frames[i].load(relaxed);
  for (std::size_t i = 0; i < kLabelMax; ++i) {
    const char c = g_area.label[i].load(relaxed);
    if (!c) break;
    out.label += c;
  }
  out.progress = g_area.progress.load(relaxed);
  const int first = first_interrupted_frame(frames, depth, g_area.interrupted_pc.load(relaxed));
  g_area.state.store(kIdle, std::memory_order_release);
  const int kept = std::min(depth - first, static_cast<int>(max_frames));
  out.frames = symbolize(frames + first, kept);
  return true;
}

}  // namespace weft::observe::detail
