// co_await net::connect (include/weft/net/connect.hpp), on Stream::connect.
#include <weft/net/connect.hpp>

namespace weft::net {

ConnectAwaiter::ConnectAwaiter(Loop& loop, std::string_view host, std::uint16_t port,
                               ConnectOptions opts)
    : loop_(loop), host_(host), port_(port), opts_(std::move(opts)) {}

ConnectAwaiter::ConnectAwaiter(Loop& loop, const SocketAddress& to, ConnectOptions opts)
    : loop_(loop), address_(to), opts_(std::move(opts)) {}

ConnectAwaiter::~ConnectAwaiter() = default;  // conn_ closes a connect in flight

bool ConnectAwaiter::await_suspend(std::coroutine_handle<> h) {
  if (opts_.token.cancelled()) {
    ec_ = canceled_error();
    return false;
  }
  h_ = h;
  conn_ = std::make_unique<Stream>(loop_, opts_.stream);
  auto cb = [this](std::error_code ec) { done(ec); };
  if (address_) {
    conn_->connect(*address_, std::move(cb), opts_.timeout);
  } else {
    conn_->connect(host_, port_, std::move(cb), opts_.timeout);
  }
  // close() cancels the connect: the callback gets operation_canceled in the close
  // phase, never inside cancel().
  if (opts_.token.can_be_cancelled()) reg_.attach(opts_.token, [this] { conn_->close(); });
  return true;
}

void ConnectAwaiter::done(std::error_code ec) {
  ec_ = ec;
  reg_.detach();
  h_.resume();
}

Stream ConnectAwaiter::await_resume() {
  if (ec_) throw std::system_error(ec_);
  // The connecting stream hands its socket over (no copy of anything: it is idle).
  Socket socket = conn_->detach_socket();
  if (!socket) throw std::system_error(std::make_error_code(std::errc::bad_file_descriptor));
  return Stream(loop_, std::move(socket), opts_.stream);
}

}  // namespace weft::net
