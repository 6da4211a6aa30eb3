// Listener's coroutine mode: listen() without a callback and co_await accept()
// (include/weft/net/accept.hpp).
#include <weft/loop.hpp>
#include <weft/net/listener.hpp>

#include "net/socket_ops.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace weft::net {

std::error_code Listener::listen(const SocketAddress& address, ListenOptions options) {
  if (std::error_code ec = listen(address, AcceptCallback{}, options)) return ec;
  // Not watched until an accept is pending: the backlog holds the connections.
  watcher_->stop();
  coroutine_mode_ = true;
  return {};
}

std::error_code Listener::accept_error() const noexcept {
  if (!coroutine_mode_) {
    return std::make_error_code(fd_ >= 0 ? std::errc::invalid_argument
                                         : std::errc::bad_file_descriptor);
  }
  if (fd_ < 0) return std::make_error_code(std::errc::bad_file_descriptor);
  if (accept_waiter_) return std::make_error_code(std::errc::device_or_resource_busy);
  return {};
}

// One connection from the backlog, or none (EAGAIN: ec stays clear), or the error.
Socket Listener::try_accept(std::error_code& ec) noexcept {
  for (;;) {
    const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      ++accepted_;
      return Socket(fd, family_);
    }
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return {};
    if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM) continue;
    ec = std::error_code(err, std::system_category());
    return {};
  }
}

void Listener::wait_accept(AcceptAwaiter* a) {
  accept_waiter_ = a;
  if (std::error_code ec =
          watcher_->start(io_event::readable, [this](unsigned) { on_accept_ready(); })) {
    accept_waiter_ = nullptr;
    a->fail_later(ec);
  }
}

void Listener::stop_waiting_accept(AcceptAwaiter* a) noexcept {
  if (accept_waiter_ != a) return;
  accept_waiter_ = nullptr;
  if (watcher_) watcher_->stop();
}

void Listener::on_accept_ready() {
  if (!accept_waiter_) {
    watcher_->stop();
    return;
  }
  std::error_code ec;
  Socket s = try_accept(ec);
  if (!s && !ec) return;  // another process took it (SO_REUSEPORT, fork): keep waiting
  AcceptAwaiter* a = std::exchange(accept_waiter_, nullptr);
  watcher_->stop();
  a->complete(std::move(s), ec);  // resumes the coroutine: touch nothing afterwards
}

void Listener::fail_accept_waiter() noexcept {
  if (AcceptAwaiter* a = std::exchange(accept_waiter_, nullptr)) a->fail_later(canceled_error());
}

// ---- AcceptAwaiter -------------------------------------------------------------------

AcceptAwaiter::~AcceptAwaiter() {
  if (waiting_ && l_) l_->stop_waiting_accept(this);
}

bool AcceptAwaiter::await_ready() {
  if (token_.cancelled())
    ec_ = canceled_error();
  else
    ec_ = l_->accept_error();
  if (ec_) return true;
  socket_ = l_->try_accept(ec_);
  return socket_ || ec_;
}

void AcceptAwaiter::await_suspend(std::coroutine_handle<> h) {
  h_ = h;
  waiting_ = true;
  l_->wait_accept(this);
  if (waiting_ && token_.can_be_cancelled()) {
    reg_.attach(token_, [this] {
      l_->stop_waiting_accept(this);
      fail_later(canceled_error());
    });
  }
}

void AcceptAwaiter::complete(Socket s, std::error_code ec) {
  waiting_ = false;
  reg_.detach();
  socket_ = std::move(s);
  ec_ = ec;
  h_.resume();
}

void AcceptAwaiter::fail_later(std::error_code ec) {
  waiting_ = false;
  reg_.detach();
  ec_ = ec;
  deferred_.schedule(l_->loop(), h_);
  l_ = nullptr;  // the listener may be going away
}

Stream AcceptAwaiter::await_resume() {
  reg_.detach();
  if (ec_) throw std::system_error(ec_);
  return Stream(l_->loop(), std::move(socket_), opts_);
}

}  // namespace weft::net
