// The server's private parts: Server::Impl (listener, connections, sweep timer) and
// Connection (one socket: parsing, dispatch, ordered responses, timeouts).
#pragma once

#include <weft/http/metrics.hpp>
#include <weft/http/server.hpp>
#include <weft/net/listener.hpp>
#include <weft/net/stream.hpp>
#include <weft/io_watcher.hpp>
#include <weft/timer.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace weft::http {

class Connection;

// An idle keep-alive connection reduced to its socket and a watcher; see
// ServerOptions::park_idle_after.
struct ParkedConnection {
  ParkedConnection(Server::Impl& server, net::Socket socket, TimePoint deadline);
  Server::Impl& server;
  net::Socket socket;
  IoWatcher watcher;
  TimePoint deadline;  // the keep-alive timeout still runs
  ParkedConnection* prev = nullptr;
  ParkedConnection* next = nullptr;
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
  bool before_done = false;    // before-middleware ran already (a quick path declined)
  std::int64_t started_ns = 0;  // counted as started and not yet answered (metrics)
};

struct Server::Impl {
  Impl(Loop& loop, ServerOptions options);
  ~Impl();

  void on_accept(net::Socket socket);
  Connection* adopt(net::Socket socket);
  void remove(Connection* c);
  void park(Connection* c);
  void unpark(ParkedConnection* p);
  void drop_parked(ParkedConnection* p);
  void sweep();
  void update_date();
  void begin_close(Duration deadline, Function<void()> done);
  void maybe_finish_close();
  Duration sweep_interval() const;

  Loop& loop;
  ServerOptions options;
  Router router;
  std::vector<BeforeMiddleware> before;
  std::vector<AfterMiddleware> after;
  std::optional<net::Listener> listener;
  Timer sweep_timer;
  Timer date_timer;
  Timer close_timer;
  std::string date_line;  // "Date: Thu, 26 Nov 2026 16:40:00 GMT\r\n"
  Connection* connections = nullptr;  // intrusive list of open connections
  ParkedConnection* parked = nullptr;  // intrusive list of parked connections
  ServerStats stats;
  detail::HttpRecorder metrics;
  std::vector<Function<void()>> close_done;  // every close() callback, run once closed
  bool closed = false;                       // the graceful close finished
  bool closing = false;
  bool destroying = false;
};

class Connection {
 public:
  Connection(Server::Impl& server, net::Socket socket);
  ~Connection();
  void start();
  void close_now();          // abortive: stops everything, the server deletes us later
  void close_when_idle();    // graceful stop: finish in-flight requests, then close
  bool is_idle() const noexcept;
  void check_deadline(TimePoint now);
  // Idle long enough to be parked (see ServerOptions::park_idle_after)?
  bool parkable(TimePoint now) const noexcept;
  net::Socket detach_for_park();
  TimePoint idle_deadline() const noexcept { return deadline_; }
  // A coroutine handler finished (error: what it threw, if anything).
  void on_async_done(Exchange& ex, std::exception_ptr error);
  // A streamed response's producer wrote a piece / finished.
  void write_body_piece(BodyWriter& w, std::string_view piece);
  void on_stream_done(Exchange& ex, std::exception_ptr error);
  // A stream_body handler took the buffered pieces: reading may resume.
  void on_body_drained();

  Connection* prev = nullptr;
  Connection* next = nullptr;

 private:
  friend struct Server::Impl;
  enum class Deadline : unsigned char { none, headers, request, idle };

  std::size_t on_data(std::span<char> data);
  bool on_head(const RequestHead& head);
  void on_body(std::string_view piece);
  void on_message_complete();
  void on_parse_error(ParseErrc e);
  void dispatch(Request& req, Handler* handler, const std::string& allow,
                std::optional<Response>& into);
  void run_sync(Request& req, Handler& handler, std::optional<Response>& into);
  bool run_quick(Request& req, Handler& handler, std::optional<Response>& into);
  void continue_async(Request& req);
  void start_async(std::shared_ptr<Exchange> ex);
  void finish(Request& req, Response& res);
  Response error_response(Request& req, std::exception_ptr e);
  void write_response(const Response& res, bool head_only, bool close, int version_minor);
  void write_head(const Response& res, bool close, int version_minor, bool chunked);
  void start_stream(std::shared_ptr<Exchange> ex);
  void release_stream() noexcept;
  void pump();
  void flush_out();
  void after_response_written();
  void set_deadline(Deadline kind, TimePoint at) noexcept;
  bool wants_close(const Request& req) const noexcept;
  void cancel_pipeline() noexcept;
  void pause_reading();
  void resume_reading();
  // metrics (http/metrics.hpp)
  std::int64_t note_request(const Request& req) noexcept;
  void note_response(int status, std::int64_t& started_ns) noexcept;
  void note_dropped(std::int64_t& started_ns) noexcept;
  void note_bytes_out(std::size_t n) noexcept { server_.metrics.bytes_out(n); }

  Server::Impl& server_;
  net::Stream stream_;
  RequestParser parser_;
  Request sync_req_;                 // reused for requests answered inline
  Request* cur_ = nullptr;           // the request being parsed
  std::shared_ptr<Exchange> cur_ex_;  // its exchange, when it has one
  Handler* cur_handler_ = nullptr;
  const std::shared_ptr<Handler>* cur_owner_ = nullptr;  // the route's reference to it
  std::string cur_allow_;
  std::deque<std::shared_ptr<Exchange>> pipeline_;  // responses owed, in request order
  std::shared_ptr<Exchange> streaming_;             // the response being streamed
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
};

}  // namespace weft::http
