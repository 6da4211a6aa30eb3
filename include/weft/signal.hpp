// Signal: POSIX signals delivered as ordinary loop callbacks.
//
// The process-wide handler only writes the signal number to each listening loop's
// self-pipe; the callback runs later on the loop thread, in the poll phase, where it may
// do anything. Several Signal handles (on one or several loops) may watch one signal;
// each is called. SIGPIPE is ignored process-wide as soon as any Loop exists (writes
// report EPIPE instead).
//
// A started Signal is an active handle: by default it keeps the loop alive; unref() it
// for a "stop when everything else is done" handler.
#pragma once

#include <weft/error.hpp>
#include <weft/function.hpp>
#include <weft/handle.hpp>

#include <csignal>  // SIGINT, SIGTERM...: what start() takes

namespace weft {

class Signal final : public Handle {
 public:
  explicit Signal(Loop& loop);
  ~Signal() override;

  // Watches signum (SIGINT, SIGTERM, SIGHUP, SIGUSR1, ...). Restarting replaces the
  // previous signal and callback.
  std::error_code start(int signum, Function<void(int signum)> cb);
  // Like start(), but stops itself after the first delivery.
  std::error_code start_oneshot(int signum, Function<void(int signum)> cb);
  void stop() noexcept;
  int signum() const noexcept { return signum_; }

 private:
  friend class detail::LoopCore;
  void stop_for_close() noexcept override { stop(); }
  void deliver(int signum);

  Function<void(int)> cb_;
  Signal* next_in_loop_ = nullptr;
  int signum_ = 0;
  bool oneshot_ = false;
};

}  // namespace weft
