// co_await tls::connect(...): a client TLS stream, connected and past its handshake.
//
//   auto ctx = tls::Context::client();                     // system CAs, name checked
//   tls::ConnectOptions opts;                              // a named variable (GCC 12)
//   opts.timeout = 5s;
//   std::unique_ptr<tls::Stream> s = co_await tls::connect(loop, "example.com", 443, ctx, opts);
//   co_await s->write_all("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
//
// The host form resolves through the loop's default resolver and tries each address in
// order (net::connect); the socket form handshakes over a socket the caller connected (a
// proxy tunnel, an address it chose). `host` is the name sent as SNI and checked against
// the certificate (an IP literal is checked as an address, without SNI).
//
// Errors are thrown as std::system_error: net::connect's codes (weft.dns, ECONNREFUSED...),
// the handshake's (weft.tls.verify with OpenSSL's verify string: "certificate has
// expired", "hostname mismatch", "self-signed certificate"...; weft.tls.openssl;
// tls::errc::truncated when the server closed during the handshake), timed_out when
// opts.timeout passed (connect and handshake together; the Context's handshake_timeout
// applies as well), operation_canceled when opts.token was cancelled.
// Cancel safety: safe (nothing to lose): cancelled or destroyed, the socket or the
// half-made stream is closed.
#pragma once

#include <weft/cancel.hpp>
#include <weft/clock.hpp>
#include <weft/net/socket.hpp>
#include <weft/net/stream.hpp>
#include <weft/task.hpp>
#include <weft/tls/context.hpp>
#include <weft/tls/session.hpp>
#include <weft/tls/stream.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace weft {
class Loop;
}  // namespace weft

namespace weft::tls {

struct ConnectOptions {
  // Connect and handshake together (zero: the resolver's, the kernel's and the Context's
  // handshake_timeout only).
  Duration timeout = std::chrono::seconds(10);
  CancelToken token{};
  Session session{};  // offered for resumption when not empty
  net::StreamOptions stream{};
};

Task<std::unique_ptr<Stream>> connect(Loop& loop, std::string host, std::uint16_t port, Context ctx,
                                      ConnectOptions opts);
Task<std::unique_ptr<Stream>> connect(Loop& loop, std::string host, std::uint16_t port,
                                      Context ctx);
// Over a connected socket: the handshake only (opts.timeout bounds it).
Task<std::unique_ptr<Stream>> connect(Loop& loop, net::Socket socket, std::string host, Context ctx,
                                      ConnectOptions opts);

}  // namespace weft::tls
