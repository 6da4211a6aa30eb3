// Stream: readiness events, deferred notifications and error delivery.
//
// User callbacks run only from the stream's own handlers (on_io, on_timer, and
// finish_close in the close phase), never from a call the user made. A call that
// completes something (write, shutdown, read_start, connect) records it and asks for a
// notification pass: at the end of the current handler if one is running, else from a
// zero-delay timer (created on first use, so an accepted server stream that never needs
// one costs no timer).
#include "net/socket_ops.hpp"
#include "net/stream_internal.hpp"

#include <weft/loop.hpp>

namespace weft::net {
namespace {

constexpr int kMaxNotificationRounds = 16;  // then yield to the loop (fairness)

}  // namespace

void Stream::on_io(unsigned events) {
  Guard g(*this);
  if (connecting_) {
    if (!(events & (io_event::writable | io_event::error | io_event::hangup))) return;
    finish_connect(detail::take_socket_error(fd_));
  } else if (fd_ >= 0 && !error_) {
    if (events & io_event::error) {
      if (std::error_code ec = detail::take_socket_error(fd_)) fail(ec);
    }
    if (!error_ && (events & io_event::writable) && !queue_.empty() && corks_ == 0) flush();
    if (!error_ && (events & (io_event::readable | io_event::hangup))) {
      maybe_readable_ = true;
      if (events & io_event::hangup) hangup_seen_ = true;
      if (reading_) do_read(g);
      if (g.dead) return;
    }
  }
  run_notifications(g);
}

void Stream::on_timer() {
  Guard g(*this);
  if (connecting_) {
    finish_connect(std::make_error_code(std::errc::timed_out));
  } else {
    notify_armed_ = false;
  }
  run_notifications(g);
}

// The stream's one timer (connect timeout, then deferred notifications), created on
// first use. Unref'd: the stream's own activity is what keeps the loop alive.
void Stream::start_timer(Duration after) {
  if (!timer_) {
    timer_ = std::make_unique<Timer>(loop());
    timer_->unref();
  }
  timer_->start([this] { on_timer(); }, after);
}

void Stream::request_notify() {
  if (in_handler_ || connecting_ || notify_armed_ || !alive_open()) {
    update_active();
    return;
  }
  start_timer(Duration::zero());
  notify_armed_ = true;
  update_active();
}

bool Stream::has_notifications() const noexcept {
  return connect_pending_ || !completed_.empty() || !failed_.empty() || shutdown_cb_pending_ ||
         drain_pending_ || resume_read_ || end_pending_ || error_pending_;
}

void Stream::run_write_callbacks(Guard& g, std::vector<WriteCallback>& list, std::error_code ec) {
  // By index: a callback may write again and append to the same list.
  for (std::size_t i = 0; i < list.size(); ++i) {
    WriteCallback cb = std::move(list[i]);
    cb(ec);
    if (g.dead) return;
  }
  list.clear();
}

void Stream::run_notifications(Guard& g) {
  for (int round = 0; round < kMaxNotificationRounds; ++round) {
    if (!alive_open() || !has_notifications()) break;
    if (connect_pending_) {
      connect_pending_ = false;
      ConnectCallback cb = std::move(connect_cb_);
      if (cb) cb(connect_result_);
      if (g.dead) return;
      if (!alive_open()) break;
      if (fd_ >= 0 && !queue_.empty() && corks_ == 0) flush();
      maybe_finish_shutdown();
    }
    if (!completed_.empty()) {
      run_write_callbacks(g, completed_, {});
      if (g.dead) return;
    }
    if (!failed_.empty()) {
      std::error_code ec = error_;
      if (!ec) {
        ec = shutdown_requested_ ? std::make_error_code(std::errc::broken_pipe)
                                 : std::make_error_code(std::errc::not_connected);
      }
      run_write_callbacks(g, failed_, ec);
      if (g.dead) return;
    }
    if (shutdown_cb_pending_) {
      shutdown_cb_pending_ = false;
      WriteCallback cb = std::move(shutdown_cb_);
      if (cb) cb(shutdown_result_);
      if (g.dead) return;
    }
    if (drain_pending_) {
      drain_pending_ = false;
      if (drain_cb_) call_slot(drain_cb_, g.dead);
      if (g.dead) return;
    }
    if (resume_read_) {
      resume_read_ = false;
      if (reading_ && fd_ >= 0 && !connecting_ && alive_open()) {
        if (rend_ > rbeg_) deliver_pending(g);
        if (g.dead) return;
        // Re-delivered after the end: unless the consumer asked for the rest again
        // (read_start() set resume_read_), nothing more can come.
        if (ended_ && reading_ && !resume_read_) {
          reading_ = false;
          update_active();
        }
        if (reading_ && maybe_readable_ && fd_ >= 0 && alive_open()) do_read(g);
        if (g.dead) return;
      }
    }
    if (end_pending_ && alive_open()) {
      end_pending_ = false;
      Function<void()> cb = std::move(end_cb_);
      if (cb) cb();
      if (g.dead) return;
    }
    if (error_pending_ && alive_open()) {
      error_pending_ = false;
      Function<void(std::error_code)> cb = std::move(error_cb_);
      if (cb) cb(error_);
      if (g.dead) return;
    }
  }
  if (alive_open() && has_notifications() && !notify_armed_ && !connecting_) {
    // Still busy after the round limit: continue in a later iteration.
    in_handler_ = false;
    request_notify();
    in_handler_ = true;
  }
  update_active();
}

void Stream::fail(std::error_code ec) {
  if (error_ || !alive_open()) return;
  error_ = ec;
  error_pending_ = true;
  reading_ = false;
  queue_.clear(failed_);
  need_drain_ = drain_pending_ = false;
  if (shutdown_cb_ && !shutdown_cb_pending_) {
    shutdown_result_ = ec;
    shutdown_cb_pending_ = true;
  }
  if (watcher_) watcher_->stop();  // nothing more to learn from the socket
  request_notify();
}

}  // namespace weft::net
