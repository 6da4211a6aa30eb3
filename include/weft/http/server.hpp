// http::Server: an HTTP/1.1 server on one loop.
//
// Keep-alive (HTTP/1.1 by default, HTTP/1.0 with "Connection: keep-alive"), pipelining
// with responses in request order, buffered request bodies, Expect: 100-continue, HEAD,
// automatic Date and Content-Length, chunked streamed responses with backpressure.
//
// Limits and timeouts (ServerOptions) follow Node's defaults: headers 60 s (408 and close),
// whole request 300 s, keep-alive idle 5 s; a connection limit; a cap on requests per
// connection. Timeouts are checked by one sweep timer per server over its connections, so
// each request costs O(1) timeout bookkeeping (a deadline field), never a heap operation.
//
// Errors: a malformed request gets its status (400, 413, 414, 431, 501, 505) and the
// connection is closed; a handler that throws gets a 500 with a generic body, and one log
// line on stderr naming the method and path. A client that disconnects mid-request cancels
// it (Request::cancelled()), and its late response is dropped.
//
// Lifetime: close(deadline, done) is the graceful stop — it stops accepting, closes idle
// connections at once, lets in-flight requests finish (their responses say
// "Connection: close") and closes whatever remains at the deadline; done runs when every
// connection is gone; the server's own handles are closed then too, so the loop can
// finish and close while the Server object still exists (it cannot listen again).
// Destroying the server closes everything at once.
//
// Many loops (ServerOptions::workers = N > 1). The loop given to the constructor is
// loop 0; listen() starts N-1 more threads, each running its own weft::Loop on the same
// Runtime (the pools are shared), each with its own SO_REUSEPORT listener bound to the
// same address (port 0: loop 0 picks the port, the others bind to it) and its own
// connections, timers and counters. The kernel spreads new connections over the
// listeners; a connection stays on the loop that accepted it, so a handler blocked on
// one loop delays only that loop's connections. TCP only (a Unix socket path with N > 1
// is refused with invalid_argument).
//
// Threading contract for handlers with N > 1:
//  * routes, middleware and options are registered once, before listen(), and are then
//    read-only (route()/use()/before()/after() after listen() throw std::logic_error);
//  * the same handler object (and its captures) may run on several loops at once: what
//    it captures must be safe for concurrent use (immutable, atomic or locked). State
//    per loop is the handler's own business; req.loop() says which loop runs it;
//  * everything one request touches — its connection, its Request, the coroutine
//    resumptions of a coroutine handler, pool completions — stays on req.loop();
//    await work on that loop (the coroutine forms use the current loop already);
//  * static_files() keeps one cache per loop and is safe to share.
// stats() sums over the loops. close(deadline, done) closes every loop's listener and
// connections; each extra loop then ends once nothing referenced is left on it, or at
// the close deadline at the latest (work handlers left behind there is dropped: pool
// completions discarded, coroutines destroyed); `done` runs on loop 0 after every extra
// thread has ended and was joined. Destroying the server stops and joins the extra loops
// at once (it waits for a handler that is running on one of them to return).
#pragma once

#include <weft/http/metrics.hpp>
#include <weft/http/parser.hpp>
#include <weft/http/router.hpp>
#include <weft/loop.hpp>
#include <weft/net/address.hpp>
#include <weft/tls/context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weft::http {

namespace detail {
struct ServerAccess;
}

// A connection limit shared by several servers, e.g. one Server per loop thread behind
// one port (weft-serve's workers): each server counts its open connections (parked ones
// too) here, so the limit holds over all of them. Thread-safe.
class ConnectionLimit {
 public:
  explicit ConnectionLimit(std::size_t max) noexcept : max_(max) {}
  // Counts one more connection unless `max` are open already (then false).
  bool try_acquire() noexcept;
  void release() noexcept { open_.fetch_sub(1, std::memory_order_relaxed); }
  std::size_t open() const noexcept { return open_.load(std::memory_order_relaxed); }
  std::size_t max() const noexcept { return max_; }

 private:
  const std::size_t max_;
  std::atomic<std::size_t> open_{0};
};

struct ServerOptions {
  ParserLimits limits;                                    // line, header, body sizes
  Duration headers_timeout = std::chrono::seconds(60);    // first byte → end of head: 408
  Duration request_timeout = std::chrono::seconds(300);   // first byte → end of body: 408
  Duration keep_alive_timeout = std::chrono::seconds(5);  // idle between requests: close
  std::size_t max_connections = 0;                        // 0: no limit; past it: see below
  // A connection over max_connections (or the shared ConnectionLimit) is answered
  // "503 Service Unavailable" with "Retry-After: <overload_retry_after in s>" and
  // "Connection: close", written at once without reading its request (on_error does not
  // shape it: there is no request yet), then closed — at most overload_responses_per_second
  // of them per loop; past that, and with 0, it is closed at once (the cheapest shedding).
  // Counted in ServerStats::connections_rejected and /_weft/metrics.
  std::size_t overload_responses_per_second = 1000;
  std::chrono::seconds overload_retry_after = std::chrono::seconds(1);
  // When set, the limit over every server sharing it (max_connections is then ignored).
  std::shared_ptr<ConnectionLimit> connection_limit;
  std::size_t max_requests_per_connection = 0;  // 0: no limit
  // After an error response sent before the request was read whole (400, 408, 413, 431,
  // ...), the output is shut down and the input read and dropped — until the client's FIN,
  // lingering_timeout without input, lingering_time in all, or lingering_max_bytes — and
  // only then closed, so a client still sending its body sees the response instead of a
  // reset (nginx's lingering close). The idle wait is short: what a client had in flight
  // arrives within a round trip, and one that keeps sending moves it. Zero: close at once.
  Duration lingering_time = std::chrono::seconds(5);
  Duration lingering_timeout = std::chrono::seconds(1);
  std::size_t lingering_max_bytes = 4 * 1024 * 1024;
  std::size_t max_pipelined = 32;           // requests parsed ahead of their responses
  std::size_t high_water_mark = 64 * 1024;  // per connection: write backpressure
  std::size_t read_buffer_size = 4 * 1024;  // the most one read takes (into the loop's buffer)
  // An idle keep-alive connection is parked after this long: only its socket and a
  // readiness watcher stay (about 250 bytes instead of the ~1.4 KiB connection object; an
  // idle connection holds no buffer either way); the next request unparks it. Zero parks
  // at once; Duration::max() never parks. Upgraded (WebSocket) connections are parked
  // likewise when their protocol allows it (http/upgrade.hpp, "Parking").
  Duration park_idle_after = std::chrono::seconds(1);
  bool reuse_port = false;  // always on when workers > 1
  // Loops serving this server: 1 serves on the constructor's loop only; N > 1 adds N-1
  // loop threads (see "Many loops" above); 0: one per core.
  unsigned workers = 1;
  // HTTPS: a server tls::Context (tls/context.hpp) makes every connection TLS (handshake
  // timeout, handshakes in progress and the rest are the Context's knobs). Empty: plain.
  tls::Context tls;
};

struct ServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_rejected = 0;  // over max_connections
  std::uint64_t requests = 0;
  std::uint64_t parse_errors = 0;
  std::uint64_t handler_errors = 0;
  std::uint64_t timeouts = 0;
  std::size_t open_connections = 0;  // including parked ones
  std::size_t parked_connections = 0;
};

class Server {
 public:
  explicit Server(Loop& loop, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes are added before listen() (with workers > 1, later ones throw std::logic_error).
  // stream_body needs a coroutine handler (std::invalid_argument otherwise).
  Server& route(std::string_view method, std::string_view pattern, Handler handler,
                RouteOptions options = {});
  Server& get(std::string_view pattern, Handler h) { return route("GET", pattern, std::move(h)); }
  Server& post(std::string_view pattern, Handler h) { return route("POST", pattern, std::move(h)); }
  Server& put(std::string_view pattern, Handler h) { return route("PUT", pattern, std::move(h)); }
  Server& patch(std::string_view pattern, Handler h) {
    return route("PATCH", pattern, std::move(h));
  }
  Server& del(std::string_view pattern, Handler h) {
    return route("DELETE", pattern, std::move(h));
  }
  // Mounts a handler at a prefix: it answers GET and HEAD for `prefix` and every path below
  // it, and sees the rest of the path without the prefix as the wildcard parameter
  // (req.param("*"): "" for the prefix itself) — what static_files() serves:
  //   app.mount("/static", static_files("public"));   // /static/a.js → public/a.js
  // req.path() stays the whole path. The same as get(prefix + "/*", handler).
  Server& mount(std::string_view prefix, Handler handler);
  // Middleware (see middleware.hpp): a layer for every request, or for paths equal to or
  // below `prefix` ("/api"). Added before listen(), like routes.
  Server& use(Middleware m);
  Server& use(std::string_view prefix, Middleware m);
  // Thin forms kept from before use() existed. before(m) is use(m) with an answer-early
  // layer (it now also runs for requests no route matches). after(m) is outside every
  // layer, whatever the order they were added in: it sees every response, the parser's
  // and timeouts' errors included.
  Server& before(BeforeMiddleware m);
  Server& after(AfterMiddleware m);
  // One handler shapes every error response, e.g. as JSON: thrown HttpErrors, 404/405,
  // 500s, and the parser's and timeouts' errors that no route sees. Headers the server
  // owes are added after it (Allow on a 405); if it throws, the plain response is sent.
  // Default: the status with the error's message as text/plain.
  Server& on_error(ErrorHandler handler);

  // Binds and starts accepting (host: an IPv4/IPv6 literal or a Unix socket path
  // starting with '/'). Port 0 picks a free port; see port(). With workers > 1 it also
  // starts the extra loops and returns once all listen, or with the first error (bind,
  // EMFILE, ...), after stopping those it had started; it may then be called again.
  // Once it succeeded with workers > 1, a second call gives errc::already_connected.
  std::error_code listen(std::uint16_t port, std::string_view host = "127.0.0.1");
  std::error_code listen(const net::SocketAddress& address);
  std::uint16_t port() const noexcept;

  void close(Duration deadline = std::chrono::seconds(10), Function<void()> done = {});
  bool is_closing() const noexcept;

  // Summed over the loops (each loop's counters are read as they are at that moment).
  ServerStats stats() const noexcept;
  // HTTP metrics summed over the loops, and each loop's own (index = loop: 0 is the
  // constructor's). Any thread; a loop's EMFILE shed count is its listener's on loop 0's
  // thread, and as of that loop's last sweep (about once a second) otherwise.
  HttpMetricsSnapshot metrics() const noexcept;
  std::vector<HttpMetricsSnapshot> loop_metrics() const;
  // Code that must run on every extra loop (workers > 1), e.g. a per-loop monitor:
  // `start(loop, index)` runs on loop `index`'s thread (1 .. workers-1) once its listener
  // listens, before the loop serves; `stop(loop, index)` on the same thread when that loop
  // ends, before its connections go. Loop 0 is the caller's own: the hook does not run
  // there. Added before listen(), like routes; several hooks run in the order added.
  using LoopHook = std::function<void(Loop& loop, unsigned index)>;
  Server& on_extra_loop(LoopHook start, LoopHook stop = {});
  const ServerOptions& options() const noexcept;
  Loop& loop() const noexcept;        // loop 0, the constructor's
  unsigned workers() const noexcept;  // loops serving (options().workers, 0 resolved)

 private:
  friend struct detail::ServerAccess;
  struct Impl;   // one loop's share: listener, connections, timers, counters
  struct State;  // the whole server: what the loops share, loop 0 and the extra loops

  void check_not_serving() const;
  std::unique_ptr<State> state_;
};

namespace detail {
// The library's own names for a Server's internals (src/http: the connection code, the
// extra loops), kept out of the public interface (as detail::LoopAccess is for a Loop).
struct ServerAccess {
  using Impl = Server::Impl;
  using State = Server::State;
};
}  // namespace detail

}  // namespace weft::http
