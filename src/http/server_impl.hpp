// The server's private parts: ServerShared (routes, middleware, options: what every loop
// reads), Server::Impl (one loop's listener, connections, timers and counters) and
// Connection (one socket: parsing, dispatch, ordered responses, timeouts). Server::State
// (server_workers.hpp) ties the loops together.
#pragma once

#include "http/middleware_run.hpp"
#include "http/parked_index.hpp"
#include "http/parked_pool.hpp"

#include <weft/http/metrics.hpp>
#include <weft/http/server.hpp>
#include <weft/net/listener.hpp>
#include <weft/net/stream.hpp>
#include <weft/net/transport.hpp>
#include <weft/tls/stream.hpp>
#include <weft/io_watcher.hpp>
#include <weft/timer.hpp>

#include <atomic>
#include <vector>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace weft::http {

// The Server's private nested types, as the files of src/http name them.
using ServerImpl = detail::ServerAccess::Impl;
using ServerState = detail::ServerAccess::State;

class Connection;

// A counter written by one thread (its loop's) and read by any: relaxed atomic loads and
// stores, so counting costs what a plain increment does and stats() may read it from
// another loop.
template <class T>
class OwnedCounter {
 public:
  OwnedCounter& operator++() noexcept { return add(1); }
  OwnedCounter& operator--() noexcept { return add(static_cast<T>(-1)); }
  operator T() const noexcept { return v_.load(std::memory_order_relaxed); }  // NOLINT
  void set(T v) noexcept { v_.store(v, std::memory_order_relaxed); }

 private:
  OwnedCounter& add(T d) noexcept {
    v_.store(static_cast<T>(v_.load(std::memory_order_relaxed) + d), std::memory_order_relaxed);
    return *this;
  }
  std::atomic<T> v_{0};
};

// One loop's counters (the fields of ServerStats), on a cache line of their own.
struct alignas(64) LoopCounters {
  OwnedCounter<std::uint64_t> connections_accepted;
  OwnedCounter<std::uint64_t> connections_rejected;
  OwnedCounter<std::uint64_t> requests;
  OwnedCounter<std::uint64_t> parse_errors;
  OwnedCounter<std::uint64_t> handler_errors;
  OwnedCounter<std::uint64_t> timeouts;
  OwnedCounter<std::size_t> open_connections;  // including parked ones
  OwnedCounter<std::size_t> parked_connections;
  OwnedCounter<std::uint64_t> connections_shed;  // the listener's, as of the last sweep
  OwnedCounter<std::size_t> upgraded_open;       // connections handed over by a 101, open now
  OwnedCounter<std::uint64_t> upgrades;          // and ever
  detail::HttpRecorder http;  // here, not in the Impl: read while that loop's Impl is gone
  void add_to(ServerStats& s) const noexcept;
  HttpMetricsSnapshot metrics() const noexcept;
};

// What every loop reads. Written only before listen(); read-only (and shared by the
// loops' threads) after it.
struct ServerShared {
  explicit ServerShared(ServerOptions o);
  ServerOptions options;
  Router router;
  // Server::use/before/after/on_error (a coroutine walking it holds a reference).
  std::shared_ptr<MiddlewareStack> middleware = std::make_shared<MiddlewareStack>();
  std::unique_ptr<LoopCounters[]> counters;  // one per loop, options.workers of them
  struct LoopHooks {
    Server::LoopHook start, stop;
  };
  std::vector<LoopHooks> loop_hooks;              // Server::on_extra_loop
  std::size_t open_connections() const noexcept;  // over all loops (max_connections)
};

// An idle keep-alive connection reduced to its socket, watched through the server's
// ParkedIndex; see ServerOptions::park_idle_after.
struct ParkedConnection {
  ParkedConnection(ServerImpl& server, net::Socket socket, TimePoint deadline);
  ~ParkedConnection();  // leaves the index if it still holds its socket
  // Out of the index; the socket goes to its next owner.
  net::Socket take_socket() noexcept;
  ServerImpl& server;
  net::Socket socket;
  TimePoint deadline;  // the keep-alive timeout still runs
  ParkedConnection* prev = nullptr;
  ParkedConnection* next = nullptr;
};

// An idle upgraded connection (http/upgrade.hpp, "Parking") reduced to its socket (its
// input watched through the server's ParkedIndex) and the protocol; it is also the
// protocol's UpgradedIo meanwhile (connection_upgrade.cpp): writes go straight to the
// socket while the kernel takes them.
struct ParkedUpgrade final : UpgradedIo {
  ParkedUpgrade(ServerImpl& server, net::Socket socket, std::shared_ptr<Upgraded> upgraded);
  ~ParkedUpgrade();                    // leaves the index if it still holds its socket
  net::Socket take_socket() noexcept;  // as ParkedConnection's
  bool write(std::string_view bytes) override;
  bool write_shared(const std::shared_ptr<const std::string>& bytes) override;
  std::size_t queued_bytes() const noexcept override { return 0; }
  void set_high_water_mark(std::size_t) noexcept override {}  // nothing is ever queued here
  void pause_input() override;
  void resume_input() override {}  // a parked connection watches its input
  void shutdown() override;
  void close() override;
  Loop& loop() const noexcept override;

  ServerImpl& server;
  net::Socket socket;
  std::shared_ptr<Upgraded> upgraded;
  ParkedUpgrade* prev = nullptr;
  ParkedUpgrade* next = nullptr;
};

// What a connection needs only while a request is being parsed or answered inline: the
// parser (with its field storage) and the request handlers see. The loop lends one to
// whichever connection is reading, so an idle connection holds none (Connection::on_data).
struct ParseState {
  explicit ParseState(const ParserLimits& limits) : parser(limits) {}
  RequestParser parser;
  Request request;  // the inline request (answered from views into the read)
};

// One request whose response cannot be written at once: a coroutine handler, a request
// behind others in the pipeline, or one whose body is still arriving.
struct Exchange {
  Request request;
  std::optional<Response> response;
  Connection* conn = nullptr;  // null once the connection is gone
  BodyWriter writer;           // for a streamed response
  bool close_after = false;
  bool head_only = false;
  bool before_done = false;     // before-forms ran already (a quick path declined)
  std::int64_t started_ns = 0;  // counted as started and not yet answered (metrics)
};

// One loop's share of the server. Everything here belongs to `loop`'s thread.
struct Server::Impl {
  Impl(Loop& loop, ServerShared& shared, LoopCounters& counters);
  ~Impl();

  // Binds and starts accepting on this loop.
  std::error_code listen(const net::SocketAddress& address, bool reuse_port);
  void on_accept(net::Socket socket);
  Connection* adopt(net::Socket socket);
  void remove(Connection* c);
  void park(Connection* c);
  void unpark(ParkedConnection* p);
  void drop_parked(ParkedConnection* p);
  void unlink_parked(ParkedConnection* p) noexcept;
  // Upgraded connections (connection_upgrade.cpp): parked, and back to a Connection (which
  // unpark returns as the protocol's UpgradedIo); at destruction each gets on_closed.
  void park_upgraded(Connection* c);
  UpgradedIo& unpark_upgraded(ParkedUpgrade* p);
  void destroy_parked_upgrades() noexcept;
  bool admit_connection();
  void answer_overloaded(const net::Socket& socket);
  void connection_gone();
  void sweep();
  void update_date();
  void begin_close(Duration deadline, Function<void()> done);
  void maybe_finish_close();
  Duration sweep_interval() const;

  Loop& loop;
  ServerShared& shared;
  const ServerOptions& options;  // shared's
  Router& router;                // shared's: read-only while serving
  std::optional<net::Listener> listener;
  Timer sweep_timer;
  Timer date_timer;
  Timer close_timer;
  std::string date_line;  // "Date: Thu, 26 Nov 2026 16:40:00 GMT\r\n"
  std::string spare_out;  // output storage no connection is using (Connection::borrow_out)
  std::unique_ptr<ParseState> spare_parse;     // likewise for parsers (Connection::on_data)
  Connection* connections = nullptr;           // intrusive list of open connections
  ParkedIndex<ParkedConnection> parked_index;  // their sockets' input, one handle for all
  ParkedIndex<ParkedUpgrade> parked_upgrade_index;
  ParkedConnection* parked = nullptr;        // intrusive list of parked connections
  BlockPool<ParkedConnection> parked_pool;   // their storage (see parked_pool.hpp)
  ParkedUpgrade* parked_upgrades = nullptr;  // intrusive list of parked upgraded connections
  BlockPool<ParkedUpgrade> parked_upgrade_pool;
  LoopCounters& stats;                       // this loop's slot in shared.counters
  detail::HttpRecorder& metrics;             // stats.http
  std::vector<Function<void()>> close_done;  // every close() callback, run once closed
  std::size_t freed_since_trim = 0;          // connections parked or gone since the last trim
  std::string overload_response;             // the canned 503 (made at the first use)
  TimePoint overload_window_start{};         // answer_overloaded's one-second window
  std::size_t overload_answered = 0;
  bool closed = false;  // the graceful close finished
  bool closing = false;
  bool destroying = false;
};

// Also the transport an upgraded protocol (http/upgrade.hpp) writes through, once a 101
// switched it (connection_upgrade.cpp).
class Connection final : private UpgradedIo {
 public:
  Connection(ServerImpl& server, net::Socket socket);
  ~Connection();
  void start();
  void close_now();        // abortive: stops everything, the server deletes us later
  void close_when_idle();  // graceful stop: finish in-flight requests, then close
  bool is_idle() const noexcept;
  void check_deadline(TimePoint now);
  // Idle long enough to be parked (see ServerOptions::park_idle_after)?
  bool parkable(TimePoint now) const noexcept;
  net::Socket detach_for_park();
  TimePoint idle_deadline() const noexcept { return deadline_; }
  // A request's coroutine (its chain and handler) finished; 500s made on the way.
  void on_async_done(Exchange& ex, unsigned internal_errors);
  // A streamed response's producer wrote a piece / finished.
  void write_body_piece(BodyWriter& w, std::string_view piece);
  void on_stream_done(Exchange& ex, std::exception_ptr error);
  // A stream_body handler took the buffered pieces: reading may resume.
  void on_body_drained();
  // A 101 response with an Upgraded: hands the connection over (false: not switched).
  bool take_over(Request& req, Response& res);
  // An unparked upgraded connection: the protocol takes the transport again.
  void resume_upgraded(std::shared_ptr<Upgraded> upgraded);

  Connection* prev = nullptr;
  Connection* next = nullptr;

 private:
  friend ServerImpl;
  enum class Deadline : unsigned char { none, headers, request, idle, linger };

  void watch_stream();  // the transport's callbacks, and reading starts
  std::size_t on_data(std::span<char> data);
  std::size_t parse_input(std::span<char> data);
  void take_parse_state();
  void give_back_parse_state();
  bool cur_is_inline() const noexcept { return parse_ && cur_ == &parse_->request; }
  bool on_head(const RequestHead& head);
  void on_input_end();
  bool should_continue(const RequestHead& head) const noexcept;
  void on_body(std::string_view piece);
  void on_message_complete();
  void on_parse_error(ParseErrc e);
  // The middleware chain and the route, inline; false when the route's quick path
  // declined (the coroutine must run).
  bool run_chain(Request& req, std::optional<Response>& into);
  void continue_async(Request& req);
  void start_async(std::shared_ptr<Exchange> ex);
  Response error_response(Request& req, std::exception_ptr e);
  // A parser or timeout error, shaped by on_error and passed through the after-forms.
  Response server_error(const Request& req, int status, std::string_view message);
  void write_response(const Response& res, bool head_only, bool close, int version_minor);
  void write_head(const Response& res, bool close, int version_minor, bool chunked);
  void start_stream(std::shared_ptr<Exchange> ex);
  void release_stream() noexcept;
  void pump();
  void flush_out();
  void start_lingering();
  std::size_t discard_lingering(std::size_t n);
  void extend_lingering() noexcept;
  void after_response_written();
  void set_deadline(Deadline kind, TimePoint at) noexcept;
  bool wants_close(const Request& req) const noexcept;
  void cancel_pipeline() noexcept;
  void pause_reading();
  void resume_reading();
  std::string& borrow_out();
  void release_out() noexcept;
  // metrics (http/metrics.hpp)
  std::int64_t note_request(const Request& req) noexcept;
  void note_response(int status, std::int64_t& started_ns) noexcept;
  void note_dropped(std::int64_t& started_ns) noexcept;
  void note_bytes_out(std::size_t n) noexcept { server_.metrics.bytes_out(n); }

  // UpgradedIo (connection_upgrade.cpp)
  bool write(std::string_view bytes) override;
  bool write_shared(const std::shared_ptr<const std::string>& bytes) override;
  std::size_t queued_bytes() const noexcept override;
  void set_high_water_mark(std::size_t bytes) noexcept override;
  void pause_input() override;
  void resume_input() override;
  void shutdown() override;
  void close() override;
  Loop& loop() const noexcept override;

  ServerImpl& server_;
  // The transport: a net::Stream in place (plain HTTP: no extra allocation), or a
  // tls::Stream when the server has a TLS context. stream_ is whichever it is; the
  // connection talks to the net::Transport interface only.
  std::optional<net::Stream> plain_;
  std::unique_ptr<tls::Stream> tls_;
  net::Transport& stream_;
  std::shared_ptr<Upgraded> upgraded_;  // after a 101: the protocol that owns the transport
  std::unique_ptr<ParseState> parse_;   // while a request is in progress (else the loop's)
  Request* cur_ = nullptr;              // the request being parsed
  std::shared_ptr<Exchange> cur_ex_;    // its exchange, when it has one
  Handler* cur_handler_ = nullptr;
  const std::shared_ptr<Handler>* cur_owner_ = nullptr;  // the route's reference to it
  std::string cur_allow_;
  bool cur_async_ = false;  // the route is a coroutine, or a full-form layer applies
  // Responses owed, in request order. A vector (short: at most max_pipelined): an empty
  // one allocates nothing, unlike std::deque, whose empty state costs ~600 bytes.
  std::vector<std::shared_ptr<Exchange>> pipeline_;
  std::shared_ptr<Exchange> streaming_;  // the response being streamed
  std::string out_;
  TimePoint deadline_{};
  TimePoint request_start_{};
  std::int64_t inline_started_ns_ = 0;  // the inline request, counted and unanswered
  std::shared_ptr<const net::SocketAddress> peer_;
  std::size_t served_ = 0;
  Deadline deadline_kind_ = Deadline::none;
  bool cur_head_only_ = false;
  bool cur_close_ = false;
  bool stop_parsing_ = false;  // a response with Connection: close is owed
  bool paused_ = false;
  bool closed_ = false;
  bool linger_ = false;       // an error response may leave unread input: linger when closing
  bool lingering_ = false;    // output shut down; input read and dropped until EOF or deadline
  bool input_ended_ = false;  // the client sent its FIN
  std::size_t lingered_ = 0;  // bytes dropped while lingering
  TimePoint linger_end_{};    // lingering_time after it began
};

}  // namespace weft::http
