// Signals: a process-wide async-signal-safe handler writes the signal number into the
// self-pipe of every loop that listens; each loop reads its pipe in the poll phase and
// calls its Signal handles there.
#include <weft/signal.hpp>

#include "core/loop_core.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <vector>

namespace weft {
namespace {

constexpr int kMaxLoopsWithSignals = 64;
constexpr int kMaxSignal = 65;

// Write ends of the listening loops' self-pipes, stored as fd + 1 so that the
// zero-initialized table (ready before any constructor runs) means "empty".
std::atomic<int> g_pipe_fds[kMaxLoopsWithSignals];

std::mutex g_mu;  // guards the tables below (never taken inside the signal handler)
int g_watchers[kMaxSignal] = {};
struct sigaction g_previous[kMaxSignal];

extern "C" void weft_signal_handler(int signum) {
  const int saved = errno;
  const auto byte = static_cast<unsigned char>(signum);
  for (auto& slot : g_pipe_fds) {
    int fd = slot.load(std::memory_order_acquire) - 1;
    if (fd >= 0) {
      ssize_t r = ::write(fd, &byte, 1);
      (void)r;  // a full pipe already holds a pending wake-up
    }
  }
  errno = saved;
}

std::error_code install_handler(int signum) {
  std::lock_guard lock(g_mu);
  if (g_watchers[signum]++ > 0) return {};
  struct sigaction sa {};
  sa.sa_handler = weft_signal_handler;
  sigfillset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (::sigaction(signum, &sa, &g_previous[signum]) != 0) {
    --g_watchers[signum];
    return {errno, std::system_category()};
  }
  return {};
}

void uninstall_handler(int signum) {
  std::lock_guard lock(g_mu);
  if (--g_watchers[signum] == 0) ::sigaction(signum, &g_previous[signum], nullptr);
}

}  // namespace

Signal::Signal(Loop& loop) : Handle(loop, HandleKind::signal) {}

Signal::~Signal() {
  if (loop_alive()) stop();
}

std::error_code Signal::start(int signum, Function<void(int)> cb) {
  assert_loop_thread();
  if (signum <= 0 || signum >= kMaxSignal || signum == SIGKILL || signum == SIGSTOP) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  stop();
  if (std::error_code ec = weft::detail::LoopAccess::core(loop()).signal_start(*this, signum))
    return ec;
  cb_ = std::move(cb);
  signum_ = signum;
  oneshot_ = false;
  set_active(true);
  return {};
}

std::error_code Signal::start_oneshot(int signum, Function<void(int)> cb) {
  std::error_code ec = start(signum, std::move(cb));
  oneshot_ = !ec;
  return ec;
}

void Signal::stop() noexcept {
  assert_loop_thread();
  if (!is_active() || !loop_alive()) return;
  weft::detail::LoopAccess::core(loop()).signal_stop(*this);
  set_active(false);
}

void Signal::deliver(int signum) {
  if (oneshot_) stop();
  cb_(signum);
}

namespace detail {

std::error_code LoopCore::signal_start(Signal& s, int signum) {
  if (signal_pipe_[0] < 0) {
    if (::pipe2(signal_pipe_, O_NONBLOCK | O_CLOEXEC) != 0) return {errno, std::system_category()};
    backend_.add(signal_pipe_[0], io_event::readable);
  }
  for (int i = 0; i < kMaxLoopsWithSignals && signal_slot_ < 0; ++i) {
    int expected = 0;
    if (g_pipe_fds[i].compare_exchange_strong(expected, signal_pipe_[1] + 1)) signal_slot_ = i;
  }
  if (signal_slot_ < 0) return std::make_error_code(std::errc::too_many_files_open);
  if (std::error_code ec = install_handler(signum)) return ec;
  s.next_in_loop_ = signals_;
  signals_ = &s;
  return {};
}

void LoopCore::signal_stop(Signal& s) noexcept {
  for (Signal** p = &signals_; *p; p = &(*p)->next_in_loop_) {
    if (*p == &s) {
      *p = s.next_in_loop_;
      s.next_in_loop_ = nullptr;
      uninstall_handler(s.signum_);
      break;
    }
  }
  if (!signals_ && signal_slot_ >= 0) {  // no listener left: leave the handler's table
    g_pipe_fds[signal_slot_].store(0, std::memory_order_release);
    signal_slot_ = -1;
  }
}

void LoopCore::read_signal_pipe() {
  unsigned char buf[64];
  ssize_t n;
  while ((n = ::read(signal_pipe_[0], buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; ++i) deliver_signal(buf[i]);
  }
}

void LoopCore::deliver_signal(int signum) {
  std::vector<Signal*> targets;
  for (Signal* s = signals_; s; s = s->next_in_loop_) {
    if (s->signum_ == signum) targets.push_back(s);
  }
  for (Signal* s : targets) {
    bool still_listening = false;  // an earlier callback may have stopped or destroyed it
    for (Signal* t = signals_; t; t = t->next_in_loop_) still_listening |= (t == s);
    if (still_listening && s->signum_ == signum) {
      weft::detail::LoopAccess::call(loop, s->label() ? s->label() : "signal",
                                     [s, signum] { s->deliver(signum); });
    }
  }
}

}  // namespace detail
}  // namespace weft
