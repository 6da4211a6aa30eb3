#include <weft/net/listener.hpp>

#include "net/socket_ops.hpp"

#include <weft/loop.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace weft::net {
namespace {

int open_spare() noexcept { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

std::error_code bind_and_listen(int fd, const SocketAddress& address, const ListenOptions& o) {
  if (!address.is_unix()) {
    if (o.reuse_address) {
      if (auto ec = detail::set_bool_option(fd, SOL_SOCKET, SO_REUSEADDR, true)) return ec;
    }
    if (o.reuse_port) {
      if (auto ec = detail::set_bool_option(fd, SOL_SOCKET, SO_REUSEPORT, true)) return ec;
    }
    if (address.is_ipv6()) {
      if (auto ec = detail::set_bool_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, o.ipv6_only)) return ec;
    }
  }
  if (::bind(fd, address.data(), address.size()) != 0) return detail::last_error();
  if (::listen(fd, o.backlog) != 0) return detail::last_error();
  return {};
}

bool is_filesystem_path(const SocketAddress& a) { return a.is_unix() && !a.ip().starts_with('@'); }

}  // namespace

Listener::Listener(Loop& loop) : Handle(loop, HandleKind::listener) {}

Listener::~Listener() {
  if (dead_) *dead_ = true;
  fail_accept_waiter();
  release();
}

std::error_code Listener::listen(const SocketAddress& address, AcceptCallback on_accept,
                                 ListenOptions options) {
  assert_loop_thread();
  if (is_closing() || is_closed()) return std::make_error_code(std::errc::bad_file_descriptor);
  if (fd_ >= 0) return std::make_error_code(std::errc::already_connected);
  if (!address.is_valid()) return std::make_error_code(std::errc::invalid_argument);

  std::error_code ec;
  const int fd = detail::open_stream_socket(address.family(), ec);
  if (fd < 0) return ec;
  if (options.unlink_existing && is_filesystem_path(address)) ::unlink(address.ip().c_str());
  if ((ec = bind_and_listen(fd, address, options))) {
    detail::close_fd(fd);
    return ec;
  }
  fd_ = fd;
  family_ = address.family();
  options_ = options;
  address_ = detail::local_address(fd);
  if (is_filesystem_path(address)) {
    unix_path_ = address.ip();
    address_ = address;  // getsockname may truncate; keep what the user gave
  }
  if (spare_fd_ < 0) spare_fd_ = open_spare();
  accept_cb_ = std::move(on_accept);
  watcher_.emplace(loop(), fd, HandleKind::io);
  watcher_->set_label("listener-io");
  watcher_->unref();
  // Level-triggered: a batch cut short by max_accepts_per_event is reported again.
  if ((ec = watcher_->start(io_event::readable, [this](unsigned) { on_readable(); }))) {
    release();
    return ec;
  }
  set_active(true);
  return {};
}

namespace {

// Points the listener's dead_ at a local flag for the duration of a handler; exception
// safe, so a throwing accept callback cannot leave dead_ dangling.
// GCC 12 cannot see that the destructor takes the address back out of the slot.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
struct DeadFlag {
  bool*& slot;
  bool* outer;
  bool dead = false;
  explicit DeadFlag(bool*& s) : slot(s), outer(s) { slot = &dead; }
  ~DeadFlag() {
    if (dead) {
      if (outer) *outer = true;
    } else {
      slot = outer;
    }
  }
};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace

void Listener::on_readable() {
  DeadFlag flag(dead_);
  const bool& dead = flag.dead;
  for (int i = 0; i < options_.max_accepts_per_event && fd_ >= 0; ++i) {
    const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      ++accepted_;
      if (accept_cb_)
        accept_cb_(Socket(fd, family_));
      else
        detail::close_fd(fd);
      if (dead) return;
      continue;
    }
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) break;
    if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM) continue;
    if (err == EMFILE || err == ENFILE) {
      const Shed s = shed_pending();
      if (s == Shed::shed_one) continue;
      if (s == Shed::none_pending) break;
    }
    pause_accepting({err, std::system_category()});
    break;
  }
}

// The reserve-descriptor technique: give the spare back to the kernel so that one
// accept can succeed, close what it returns, then take the spare again.
Listener::Shed Listener::shed_pending() noexcept {
  if (spare_fd_ < 0) spare_fd_ = open_spare();
  if (spare_fd_ < 0) return Shed::no_spare;
  detail::close_fd(spare_fd_);
  const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  const int err = errno;
  if (fd >= 0) {
    detail::close_fd(fd);
    ++shed_;
  }
  spare_fd_ = open_spare();
  if (fd >= 0) return Shed::shed_one;
  // accept4 reports EMFILE before looking at the queue: with the spare closed, EAGAIN
  // tells that nothing was pending after all.
  return err == EAGAIN || err == EWOULDBLOCK ? Shed::none_pending : Shed::no_spare;
}

void Listener::pause_accepting(std::error_code ec) {
  if (watcher_) watcher_->stop();
  if (!retry_timer_) {
    retry_timer_ = std::make_unique<Timer>(loop());
    retry_timer_->unref();  // the listener itself stays active
  }
  retry_timer_->start([this] { resume_accepting(); }, options_.retry_delay);
  report(ec);
}

void Listener::resume_accepting() {
  if (fd_ < 0 || !watcher_) return;
  if (spare_fd_ < 0) spare_fd_ = open_spare();
  if (std::error_code ec = watcher_->set_events(io_event::readable)) pause_accepting(ec);
}

void Listener::report(std::error_code ec) {
  if (!error_cb_) return;
  Function<void(std::error_code)> cb = std::move(error_cb_);
  DeadFlag flag(dead_);
  cb(ec);
  if (!flag.dead && !error_cb_) error_cb_ = std::move(cb);
}

void Listener::stop_for_close() noexcept {
  fail_accept_waiter();
  release();
  if (watcher_) watcher_->close();
  if (retry_timer_) retry_timer_->close();
}

void Listener::release() noexcept {
  if (watcher_) watcher_->stop();
  if (retry_timer_) retry_timer_->stop();
  if (fd_ >= 0) {
    detail::close_fd(fd_);
    fd_ = -1;
    if (!unix_path_.empty() && options_.unlink_on_close) ::unlink(unix_path_.c_str());
    unix_path_.clear();
  }
  if (spare_fd_ >= 0) {
    detail::close_fd(spare_fd_);
    spare_fd_ = -1;
  }
}

}  // namespace weft::net
