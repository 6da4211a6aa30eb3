// co_await net::connect(...): a connected Stream, coroutine style.
//
//   net::Stream s = co_await net::connect(loop, "localhost", 8080, {.timeout = 2s});
//   net::Stream t = co_await net::connect(loop, *net::SocketAddress::parse("::1", 80));
//
// The host form resolves through the loop's default resolver and tries each address in
// order (as Stream::connect(host, port)); opts.timeout covers the lookup and every
// attempt. Errors are thrown as std::system_error with the callback form's codes (the
// lookup's weft.dns error, the last address's ECONNREFUSED..., timed_out,
// operation_canceled when opts.token is cancelled).
// Cancel safety: safe (nothing to lose): destroyed or cancelled, the socket being
// connected is closed; no connection is leaked.
// A Stream is not movable, so it cannot go through with_timeout/when_any: use
// opts.timeout and opts.token.
// GCC 12: keep the options in a named variable when they hold a token. GCC 12 destroys a
// braced temporary (connect(loop, addr, {.token = t})) inside a co_await expression
// twice — a compiler bug (clang is fine) that would release the token twice.
#pragma once

#include <weft/cancel.hpp>
#include <weft/net/address.hpp>
#include <weft/net/stream.hpp>

#include <coroutine>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace weft::net {

struct ConnectOptions {
  Duration timeout = Duration::zero();  // zero: the resolver's and the kernel's limits
  StreamOptions stream{};               // for the returned Stream
  CancelToken token{};
};

class [[nodiscard]] ConnectAwaiter {
 public:
  ConnectAwaiter(Loop& loop, std::string_view host, std::uint16_t port, ConnectOptions opts);
  ConnectAwaiter(Loop& loop, const SocketAddress& to, ConnectOptions opts);
  ConnectAwaiter(const ConnectAwaiter&) = delete;
  ConnectAwaiter& operator=(const ConnectAwaiter&) = delete;
  ~ConnectAwaiter();

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h);
  Stream await_resume();

 private:
  void done(std::error_code ec);

  Loop& loop_;
  std::string host_;
  std::uint16_t port_ = 0;
  std::optional<SocketAddress> address_;
  ConnectOptions opts_;
  std::unique_ptr<Stream> conn_;  // connects; its socket moves to the returned Stream
  CancelRegistration reg_;
  std::coroutine_handle<> h_;
  std::error_code ec_;
};

inline ConnectAwaiter connect(Loop& loop, std::string_view host, std::uint16_t port,
                              ConnectOptions opts = {}) {
  return ConnectAwaiter(loop, host, port, std::move(opts));
}
inline ConnectAwaiter connect(Loop& loop, const SocketAddress& to, ConnectOptions opts = {}) {
  return ConnectAwaiter(loop, to, std::move(opts));
}

}  // namespace weft::net
