// Stream: lifetime, connect, close and options. Events: stream_events.cpp; reading and
// writing: stream_io.cpp.
#include "net/socket_ops.hpp"
#include "net/stream_internal.hpp"

#include <weft/loop.hpp>
#include <weft/net/dns.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <stdexcept>

namespace weft::net {

// connect(host, port): the lookup, then the addresses still to try. Destroying it
// cancels the lookup (its callback captures the stream).
struct Stream::HostConnect {
  ResolveHandle lookup;
  std::vector<SocketAddress> addrs;
  std::size_t next = 0;
  std::optional<TimePoint> deadline;
  ~HostConnect() { lookup.cancel(); }
};

namespace {

HandleKind kind_of(int family) noexcept {
  return family == AF_UNIX ? HandleKind::unix_stream : HandleKind::tcp;
}

}  // namespace

Stream::Stream(Loop& loop, StreamOptions options)
    : Transport(loop, HandleKind::tcp), options_(options) {}

Stream::Stream(Loop& loop, Socket socket, StreamOptions options)
    : Transport(loop, kind_of(socket.family())), options_(options) {
  const int family = socket.family();
  if (socket) adopt(socket.release(), family);
}

Stream::~Stream() {
  if (dead_) *dead_ = true;
  // The watcher leaves the poll set before the descriptor is closed: the fd number may
  // be reused at once.
  watcher_.reset();
  timer_.reset();
  if (fd_ >= 0) detail::close_fd(fd_);
}

void Stream::adopt(int fd, int family) {
  fd_ = fd;
  family_ = family;
  if (family != AF_UNIX && options_.no_delay) set_no_delay(true);
  watcher_.emplace(loop(), fd, HandleKind::io);
  watcher_->set_label("stream-io");
  watcher_->unref();  // the stream itself accounts for liveness
  // Registered once, edge-triggered, for both directions: nothing below changes the
  // interest set again (see the header).
  const unsigned events = io_event::readable | io_event::writable | io_event::edge;
  if (std::error_code ec = watcher_->start(events, [this](unsigned ev) { on_io(ev); })) fail(ec);
}

void Stream::release_socket(bool abortive) noexcept {
  if (watcher_) watcher_->stop();
  if (fd_ < 0) return;
  if (abortive) {
    linger lg{1, 0};  // close() sends RST and drops unsent data
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  detail::close_fd(fd_);
  fd_ = -1;
}

void Stream::update_active() noexcept {
  if (!alive_open()) return;
  const bool active = (reading_ && (fd_ >= 0 || connecting_)) || !queue_.empty() || connecting_ ||
                      (shutdown_requested_ && !shutdown_done_) || has_notifications();
  set_active(active);
}

// ---- connect -------------------------------------------------------------------------

void Stream::connect(const SocketAddress& to, ConnectCallback cb, Duration timeout) {
  assert_loop_thread();
  if (fd_ >= 0 || connecting_ || connect_pending_) {
    throw std::logic_error("weft::net::Stream::connect: the stream already has a socket");
  }
  if (!alive_open()) return;  // closed: the callback is dropped, as on destruction
  connect_cb_ = std::move(cb);
  if (to.is_unix()) set_label("unix");

  std::error_code ec;
  const int fd = detail::open_stream_socket(to.family(), ec);
  if (fd < 0) {
    connect_result_ = ec;
  } else {
    adopt(fd, to.family());
    if (::connect(fd, to.data(), to.size()) == 0) {
      connect_result_ = {};
    } else if (errno == EINPROGRESS || errno == EINTR) {
      connecting_ = true;
      if (timeout > Duration::zero()) start_timer(timeout);
      update_active();
      return;
    } else {
      connect_result_ = detail::last_error();
      release_socket(false);
    }
  }
  // Finished (or failed) synchronously: delivered later, never inside connect().
  connect_pending_ = true;
  maybe_readable_ = resume_read_ = !connect_result_;
  request_notify();
}

void Stream::finish_connect(std::error_code ec) {
  connecting_ = false;
  if (timer_) timer_->stop();
  if (ec) release_socket(false);
  if (host_connect_ && ec && ec != std::errc::timed_out) {
    ec = connect_next_address(ec);
    if (connecting_ || connect_pending_) {  // the next address is being tried, or connected
      if (!connecting_) host_connect_.reset();
      return;
    }
  }
  host_connect_.reset();
  connect_result_ = ec;
  connect_pending_ = true;
  maybe_readable_ = resume_read_ = !ec;
}

void Stream::connect(std::string_view host, std::uint16_t port, ConnectCallback cb,
                     Duration timeout) {
  assert_loop_thread();
  if (fd_ >= 0 || connecting_ || connect_pending_) {
    throw std::logic_error("weft::net::Stream::connect: the stream already has a socket");
  }
  if (!alive_open()) return;  // closed: the callback is dropped, as on destruction
  auto hc = std::make_unique<HostConnect>();
  if (timeout > Duration::zero()) hc->deadline = loop().now() + timeout;
  hc->lookup = default_resolver(loop()).resolve(
      host, port, [this](std::error_code ec, std::span<const SocketAddress> addrs) {
        on_host_resolved(ec, addrs);
      });
  host_connect_ = std::move(hc);
  connect_cb_ = std::move(cb);
  // "Connecting" without a socket yet: close() and the timeout (on_timer) take the
  // usual connect paths; the lookup's callback never runs inside this call.
  connecting_ = true;
  if (timeout > Duration::zero()) start_timer(timeout);
  update_active();
}

void Stream::on_host_resolved(std::error_code ec, std::span<const SocketAddress> addrs) {
  Guard g(*this);
  host_connect_->lookup = ResolveHandle();
  if (!ec) {
    host_connect_->addrs.assign(addrs.begin(), addrs.end());
    connecting_ = false;
    ec = connect_next_address(make_error_code(dns_errc::host_not_found));
    if (connecting_ || connect_pending_) {
      if (!connecting_) host_connect_.reset();
      run_notifications(g);
      return;
    }
    connecting_ = true;
  }
  finish_connect(ec);
  run_notifications(g);
}

// Tries the remaining addresses until one is connecting (or connected synchronously);
// returns the last error when none is left, timed_out past the deadline.
std::error_code Stream::connect_next_address(std::error_code last) {
  HostConnect& hc = *host_connect_;
  while (hc.next < hc.addrs.size() && alive_open()) {
    Duration left = Duration::zero();
    if (hc.deadline) {
      left = *hc.deadline - loop().now();
      if (left <= Duration::zero()) return std::make_error_code(std::errc::timed_out);
    }
    const SocketAddress to = hc.addrs[hc.next++];
    ConnectCallback cb = std::move(connect_cb_);
    connect_result_ = {};
    connect(to, std::move(cb), left);
    if (connecting_ || !connect_result_) return {};
    last = connect_result_;  // failed at once: take the delivery back, try the next one
    connect_pending_ = false;
    maybe_readable_ = resume_read_ = false;
  }
  return last;
}

// ---- close ---------------------------------------------------------------------------

void Stream::close(Function<void()> on_close) {
  if (!alive_open()) return;
  user_on_close_ = std::move(on_close);
  Handle::close([this] { finish_close(); });
}

void Stream::reset(Function<void()> on_close) {
  if (!alive_open()) return;
  abortive_close_ = true;
  close(std::move(on_close));
}

Socket Stream::detach_socket() {
  assert_loop_thread();
  if (!alive_open() || fd_ < 0 || connecting_ || connect_pending_ || !queue_.empty() ||
      shutdown_requested_ || buffered_bytes() != 0) {
    return {};
  }
  if (watcher_) watcher_->stop();
  Socket socket(std::exchange(fd_, -1), family_);
  close();  // no socket left to release; on_close (none) runs in the close phase
  return socket;
}

void Stream::stop_for_close() noexcept {
  // Everything still owed to the user is canceled; finish_close() delivers it in the
  // close phase. Nothing else (data, end, error, drain) is delivered after close().
  if (connecting_ || connect_pending_) {
    connect_result_ = canceled_error();
    connect_pending_ = true;
  }
  host_connect_.reset();  // cancels a lookup in flight
  connecting_ = reading_ = false;
  queue_.clear(failed_);
  if (shutdown_cb_ && !shutdown_cb_pending_) {
    shutdown_result_ = canceled_error();
    shutdown_cb_pending_ = true;
  }
  end_pending_ = error_pending_ = drain_pending_ = resume_read_ = false;
  release_socket(abortive_close_);
  if (watcher_) watcher_->close();
  if (timer_) timer_->close();
  notify_armed_ = false;
}

void Stream::finish_close() {
  Guard g(*this);
  if (connect_pending_) {
    connect_pending_ = false;
    ConnectCallback cb = std::move(connect_cb_);
    if (cb) cb(connect_result_);
    if (g.dead) return;
  }
  run_write_callbacks(g, completed_, {});
  if (g.dead) return;
  run_write_callbacks(g, failed_, error_ ? error_ : canceled_error());
  if (g.dead) return;
  if (shutdown_cb_pending_) {
    shutdown_cb_pending_ = false;
    WriteCallback cb = std::move(shutdown_cb_);
    if (cb) cb(shutdown_result_);
    if (g.dead) return;
  }
  Function<void()> cb = std::move(user_on_close_);
  if (cb) cb();
}

// ---- options -------------------------------------------------------------------------

std::error_code Stream::set_no_delay(bool on) noexcept {
  if (fd_ < 0) return std::make_error_code(std::errc::bad_file_descriptor);
  if (family_ == AF_UNIX) return {};
  return detail::set_bool_option(fd_, IPPROTO_TCP, TCP_NODELAY, on);
}

std::error_code Stream::set_keepalive(bool on, std::chrono::seconds idle) noexcept {
  if (fd_ < 0) return std::make_error_code(std::errc::bad_file_descriptor);
  if (std::error_code ec = detail::set_bool_option(fd_, SOL_SOCKET, SO_KEEPALIVE, on)) return ec;
  if (!on || family_ == AF_UNIX) return {};
  int secs = static_cast<int>(idle.count() > 0 ? idle.count() : 1);
  if (::setsockopt(fd_, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof secs) != 0) {
    return detail::last_error();
  }
  return {};
}

SocketAddress Stream::local_address() const noexcept { return detail::local_address(fd_); }
SocketAddress Stream::peer_address() const noexcept { return detail::peer_address(fd_); }

}  // namespace weft::net
