// tls::connect(): connect (net::connect), then the client handshake, under one timeout
// and the caller's token.
#include <weft/loop.hpp>
#include <weft/net/connect.hpp>
#include <weft/timer.hpp>
#include <weft/tls/connect.hpp>

#include <utility>

namespace weft::tls {

namespace {

// One timeout and the caller's token over the whole connect: `token()` is cancelled by
// either; `timed_out()` tells which.
class Deadline {
 public:
  Deadline(Loop& loop, Duration timeout, const CancelToken& user) : timer_(loop) {
    user_reg_.attach(user, [this] { source_.cancel(); });
    if (timeout > Duration::zero()) {
      timer_.start(
          [this] {
            expired_ = true;
            source_.cancel();
          },
          timeout);
    }
  }
  CancelToken token() const { return source_.token(); }
  bool timed_out() const noexcept { return expired_; }
  // The error for an operation that ended with `ec`.
  std::error_code translate(std::error_code ec) const {
    if (expired_ && ec == std::errc::operation_canceled)
      return std::make_error_code(std::errc::timed_out);
    return ec;
  }

 private:
  Timer timer_;
  CancelSource source_;
  CancelRegistration user_reg_;
  bool expired_ = false;
};

// Waits for the handshake of `s`; a cancelled token ends the wait with operation_canceled
// (the caller closes the stream). Either way the coroutine resumes in the pending phase,
// never inside the stream's callback: the stream calls back from a deferred function that
// still reads its members afterwards, and the resumed coroutine may destroy the stream.
class HandshakeWait {
 public:
  HandshakeWait(Loop& loop, Stream& s, CancelToken token)
      : loop_(loop), s_(s), token_(std::move(token)) {}
  HandshakeWait(const HandshakeWait&) = delete;
  HandshakeWait& operator=(const HandshakeWait&) = delete;
  ~HandshakeWait() {
    if (state_) state_->self = nullptr;
  }
  bool await_ready() const noexcept { return s_.handshake_done() || s_.error(); }
  void await_suspend(std::coroutine_handle<> h) {
    h_ = h;
    state_ = std::make_shared<State>();
    state_->self = this;
    s_.on_handshake([st = state_](std::error_code ec) {
      if (st->self) st->self->finish(ec);
    });
    reg_.attach(token_, [this] { finish(std::make_error_code(std::errc::operation_canceled)); });
  }
  std::error_code await_resume() {
    reg_.detach();
    if (state_) return ec_;
    return s_.handshake_done() ? std::error_code() : s_.error();
  }

 private:
  struct State {
    HandshakeWait* self = nullptr;  // null once the awaiter is gone
  };
  // The first outcome wins; the resume is deferred (see above).
  void finish(std::error_code ec) {
    if (!h_) return;
    ec_ = ec;
    resume_.schedule(loop_, std::exchange(h_, nullptr));
  }
  Loop& loop_;
  Stream& s_;
  CancelToken token_;
  CancelRegistration reg_;
  std::shared_ptr<State> state_;
  std::coroutine_handle<> h_;
  std::error_code ec_;
  weft::detail::DeferredResume resume_;
};

Task<std::unique_ptr<Stream>> handshake_over(Loop& loop, net::Socket socket, std::string host,
                                             const Context& ctx, const ConnectOptions& opts,
                                             const Deadline& deadline) {
  auto stream = std::make_unique<Stream>(loop, std::move(socket), ctx, std::move(host),
                                         opts.session, opts.stream);
  std::error_code ec = co_await HandshakeWait(loop, *stream, deadline.token());
  if (ec) {
    stream->close();
    throw std::system_error(deadline.translate(ec));
  }
  co_return stream;
}

}  // namespace

Task<std::unique_ptr<Stream>> connect(Loop& loop, std::string host, std::uint16_t port, Context ctx,
                                      ConnectOptions opts) {
  Deadline deadline(loop, opts.timeout, opts.token);
  net::ConnectOptions nopts;
  nopts.stream = opts.stream;
  nopts.token = deadline.token();
  std::error_code ec;
  net::Socket socket;
  try {
    net::Stream plain = co_await net::connect(loop, host, port, nopts);
    socket = plain.detach_socket();
  } catch (const std::system_error& e) {
    ec = deadline.translate(e.code());
  }
  if (ec) throw std::system_error(ec);
  std::unique_ptr<Stream> s =
      co_await handshake_over(loop, std::move(socket), std::move(host), ctx, opts, deadline);
  co_return s;
}

Task<std::unique_ptr<Stream>> connect(Loop& loop, std::string host, std::uint16_t port,
                                      Context ctx) {
  ConnectOptions opts;
  return connect(loop, std::move(host), port, std::move(ctx), std::move(opts));
}

Task<std::unique_ptr<Stream>> connect(Loop& loop, net::Socket socket, std::string host, Context ctx,
                                      ConnectOptions opts) {
  Deadline deadline(loop, opts.timeout, opts.token);
  std::unique_ptr<Stream> s =
      co_await handshake_over(loop, std::move(socket), std::move(host), ctx, opts, deadline);
  co_return s;
}

}  // namespace weft::tls
