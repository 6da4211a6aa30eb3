// One HTTP connection: parse in place, answer quick requests inline, keep responses in
// request order, enforce deadlines.
#include "http/server_impl.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace weft::http {

using detail::RequestAccess;

using namespace std::string_view_literals;  // appends of literals: no strlen, inlined copies

namespace {

void append_status_line(std::string& out, int status) {
  char code[4] = {static_cast<char>('0' + status / 100 % 10),
                  static_cast<char>('0' + status / 10 % 10), static_cast<char>('0' + status % 10),
                  ' '};
  out.append("HTTP/1.1 "sv);
  out.append(code, 4);
  out.append(reason_phrase(status));
  out.append("\r\n"sv);
}

void append_decimal(std::string& out, std::size_t n) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, n).ptr;
  out.append(buf, static_cast<std::size_t>(end - buf));
}

bool has_no_body(int status) { return status < 200 || status == 204 || status == 304; }

// Room for a whole head (bodies are copied out as they arrive), and at least 64 KiB.
std::size_t read_buffer_limit(const ServerOptions& o) {
  return std::max<std::size_t>(64 * 1024, o.limits.max_request_line + o.limits.max_header_block +
                                              o.limits.max_chunk_line + 1024);
}

// Not corked while reading: responses are already gathered per read in out_ and written
// once (a corked write would copy them into the stream's queue).
net::StreamOptions stream_options(const ServerOptions& o) {
  return net::StreamOptions{.read_buffer_size = o.read_buffer_size,
                            .max_read_buffer = read_buffer_limit(o),
                            .high_water_mark = o.high_water_mark,
                            .no_delay = true,
                            .cork_during_read = false};
}

// The transport (server_impl.hpp): one of these takes the socket.
std::optional<net::Stream> plain_stream(ServerImpl& server, net::Socket& socket) {
  if (server.options.tls) return std::nullopt;
  return std::optional<net::Stream>(std::in_place, server.loop, std::move(socket),
                                    stream_options(server.options));
}

std::unique_ptr<tls::Stream> tls_stream(ServerImpl& server, net::Socket& socket) {
  if (!server.options.tls) return nullptr;
  return std::make_unique<tls::Stream>(server.loop, std::move(socket), server.options.tls,
                                       stream_options(server.options));
}

}  // namespace

Connection::Connection(ServerImpl& server, net::Socket socket)
    : server_(server),
      plain_(plain_stream(server, socket)),
      tls_(tls_stream(server, socket)),
      stream_(plain_ ? static_cast<net::Transport&>(*plain_) : *tls_),
      parse_() {}

Connection::~Connection() {
  if (upgraded_) {
    --server_.stats.upgraded_open;
    upgraded_->on_closed(stream_.error());
  }
  release_stream();
  cancel_pipeline();
  note_dropped(inline_started_ns_);
  if (parse_) *RequestAccess::cancel_flag(parse_->request) = true;
}

// Every request still owed a response is cancelled: its handler sees cancelled(), a
// streamed body's reader gets operation_canceled, and a late response is dropped.
void Connection::cancel_pipeline() noexcept {
  for (auto& ex : pipeline_) {
    note_dropped(ex->started_ns);
    ex->conn = nullptr;
    *RequestAccess::cancel_flag(ex->request) = true;
    if (BodyStream* body = RequestAccess::body_stream(ex->request)) RequestAccess::fail(*body);
  }
  pipeline_.clear();
}

void Connection::start() {
  server_.metrics.connection_accepted();
  peer_ = std::make_shared<const net::SocketAddress>(stream_.peer_address());
  request_start_ = server_.loop.now();
  set_deadline(Deadline::headers, request_start_ + server_.options.headers_timeout);
  watch_stream();
}

void Connection::watch_stream() {
  stream_.on_end([this] { upgraded_ ? upgraded_->on_end() : on_input_end(); });
  stream_.on_error([this](std::error_code) { close_now(); });
  stream_.on_drain([this] {
    if (upgraded_) return upgraded_->on_drain();
    if (streaming_) {
      streaming_->writer.blocked_ = false;
      if (auto h = std::exchange(streaming_->writer.waiting_, {})) h.resume();
      return;
    }
    resume_reading();
  });
  stream_.read_start([this](std::span<char> data) { return on_data(data); });
}

// ---- parsing ---------------------------------------------------------------------------

std::size_t Connection::parse_input(std::span<char> data) {
  if (lingering_) return discard_lingering(data.size());
  std::size_t off = 0;
  while (!closed_ && !stop_parsing_ && !upgraded_) {
    if (!cur_ && pipeline_.size() >= server_.options.max_pipelined) {
      pause_reading();
      break;
    }
    ParseResult r = parse_->parser.parse(std::string_view(data.data() + off, data.size() - off));
    off += r.consumed;
    if (r.status == ParseStatus::need_more) {
      if (cur_ex_) RequestAccess::detach(cur_ex_->request);
      if (cur_is_inline()) RequestAccess::detach(parse_->request);
      if (!cur_ && off < data.size() && deadline_kind_ == Deadline::idle) {
        request_start_ = server_.loop.now();
        set_deadline(Deadline::headers, request_start_ + server_.options.headers_timeout);
      }
      break;
    }
    if (r.status == ParseStatus::head_complete) {
      if (!on_head(parse_->parser.head())) break;
    } else if (r.status == ParseStatus::body_data) {
      on_body(r.body);
    } else if (r.status == ParseStatus::message_complete) {
      on_message_complete();
    } else {
      on_parse_error(r.error);
      flush_out();  // answer now: the client may send nothing more
      server_.metrics.bytes_in(data.size());
      return data.size();
    }
  }
  flush_out();
  server_.metrics.bytes_in(off);
  return off;
}

bool Connection::on_head(const RequestHead& head) {
  ++server_.stats.requests;
  if (deadline_kind_ == Deadline::idle) request_start_ = server_.loop.now();
  RequestAccess::reset(parse_->request);
  RequestAccess::assign(parse_->request, head);
  RequestAccess::set_start_time(parse_->request, request_start_);
  const std::int64_t started_ns = note_request(parse_->request);
  Router::Match m = server_.router.match(parse_->request);
  cur_handler_ = m.handler;
  cur_owner_ = m.owner;
  cur_allow_ = std::move(m.allow);
  // `OPTIONS *` (the parser allows no other method with "*") is told every method.
  if (!m.handler && head.target == "*") cur_allow_ = server_.router.methods();
  cur_head_only_ = parse_->request.is_head();
  cur_close_ = wants_close(parse_->request);
  const bool chain_async = server_.shared.middleware->needs_coroutine(parse_->request.path());
  cur_async_ = chain_async || (m.handler && m.handler->async);
  const bool inline_ok =
      pipeline_.empty() && !streaming_ && !chain_async &&
      (!m.handler || m.handler->sync || (m.handler->quick && !m.handler->options.stream_body));
  if (inline_ok) {
    cur_ = &parse_->request;
    inline_started_ns_ = started_ns;
  } else {
    cur_ex_ = std::make_shared<Exchange>();
    cur_ex_->conn = this;
    cur_ex_->started_ns = started_ns;
    RequestAccess::assign(cur_ex_->request, head);
    RequestAccess::set_start_time(cur_ex_->request, request_start_);
    RequestAccess::set_peer(cur_ex_->request, peer_);
    (void)server_.router.match(cur_ex_->request);  // same params, on the exchange's request
    RequestAccess::detach(cur_ex_->request);
    cur_ex_->head_only = cur_head_only_;
    cur_ex_->close_after = cur_close_;
    pipeline_.push_back(cur_ex_);
    cur_ = &cur_ex_->request;
  }
  if (const std::uint64_t limit = server_.shared.middleware->max_body_for(
          parse_->request.path(), m.handler ? m.handler->options.max_body : 0)) {
    parse_->parser.set_max_body(limit);
  }
  if (m.handler && m.handler->options.stream_body) {
    RequestAccess::set_connection(RequestAccess::enable_body_stream(cur_ex_->request), this);
    start_async(cur_ex_);  // reads the body as it comes
  }
  if (head.framing != BodyFraming::none) {
    set_deadline(Deadline::request, request_start_ + server_.options.request_timeout);
    if (should_continue(head)) borrow_out().append("HTTP/1.1 100 Continue\r\n\r\n");
  } else {
    set_deadline(Deadline::none, {});
  }
  return true;
}

// The client sent all it will send. Complete requests are still answered, then the
// connection closes. A request whose head or body is incomplete can never complete: it is
// dropped at once (its handler, if one streams the body, sees the body fail and the
// request cancelled), as nginx does on "client prematurely closed connection" and Node
// on 'aborted' — rather than holding the socket until the request timeout.
void Connection::on_input_end() {
  input_ended_ = true;
  if (lingering_) {
    close_now();
    return;
  }
  stop_parsing_ = true;
  if (cur_is_inline()) note_dropped(inline_started_ns_);
  if (cur_ex_ && !cur_ex_->response && !pipeline_.empty() && pipeline_.back() == cur_ex_) {
    pipeline_.pop_back();
    note_dropped(cur_ex_->started_ns);
    cur_ex_->conn = nullptr;
    *RequestAccess::cancel_flag(cur_ex_->request) = true;
    if (BodyStream* body = RequestAccess::body_stream(cur_ex_->request)) RequestAccess::fail(*body);
  }
  cur_ = nullptr;
  cur_ex_.reset();
  set_deadline(Deadline::none, {});
  pump();
  flush_out();
}

// Whether to send 100 (Continue) now: every earlier response is complete (in out_ or
// sent), so the 100 may follow them; and a declared length over the limit gets its 413
// alone (RFC 9110 §10.1.1: a final status instead of the 100).
bool Connection::should_continue(const RequestHead& head) const noexcept {
  if (!head.expect_continue || streaming_) return false;
  if (pipeline_.size() > (cur_ex_ ? 1u : 0u)) return false;
  return head.framing != BodyFraming::content_length ||
         head.content_length <= parse_->parser.max_body();
}

void Connection::on_body(std::string_view piece) {
  if (!cur_) return;
  BodyStream* stream = cur_ex_ ? RequestAccess::body_stream(cur_ex_->request) : nullptr;
  if (!stream) {
    RequestAccess::append_body(*cur_, piece);
  } else if (!cur_ex_->response) {  // once answered, the rest of the body is discarded
    RequestAccess::push(*stream, piece);
    if (RequestAccess::buffered(*stream) > server_.options.high_water_mark) pause_reading();
  }
}

void body_stream_drained(Connection& c) { c.on_body_drained(); }

void Connection::on_body_drained() { resume_reading(); }

void Connection::on_message_complete() {
  set_deadline(Deadline::none, {});
  ++served_;
  if (cur_close_) stop_parsing_ = true;
  Request* req = std::exchange(cur_, nullptr);
  std::shared_ptr<Exchange> ex = std::move(cur_ex_);
  if (!ex) {
    std::optional<Response> res;
    if (!run_chain(*req, res)) return continue_async(*req);
    if (res->upgraded() && take_over(*req, *res)) return;
    if (!res->is_streamed()) {
      write_response(*res, cur_head_only_, cur_close_, req->version_minor());
      note_response(res->status_code(), inline_started_ns_);
      after_response_written();
      return;
    }
    ex = std::make_shared<Exchange>();  // streamed: it needs a life of its own
    ex->conn = this;
    ex->started_ns = std::exchange(inline_started_ns_, 0);
    RequestAccess::copy_from(ex->request,
                             *req);  // the head's bytes may be gone from the read buffer
    ex->head_only = cur_head_only_;
    ex->close_after = cur_close_;
    ex->response = std::move(res);
    pipeline_.push_back(std::move(ex));
    pump();
    return;
  }
  if (BodyStream* stream = RequestAccess::body_stream(ex->request)) {
    RequestAccess::end(*stream);  // the handler runs already
  } else if (cur_async_) {
    start_async(std::move(ex));
  } else {
    (void)run_chain(ex->request, ex->response);
    pump();
  }
}

void Connection::on_parse_error(ParseErrc e) {
  ++server_.stats.parse_errors;
  stop_parsing_ = true;
  linger_ = true;
  set_deadline(Deadline::none, {});
  auto ex = cur_ex_ ? cur_ex_ : std::make_shared<Exchange>();
  if (!cur_ex_) {
    ex->conn = this;
    if (cur_is_inline()) ex->started_ns = std::exchange(inline_started_ns_, 0);
    pipeline_.push_back(ex);
  }
  if (BodyStream* stream = RequestAccess::body_stream(ex->request)) RequestAccess::fail(*stream);
  ex->response = server_error(cur_ ? *cur_ : ex->request, http_status(e), describe(e));
  cur_ = nullptr;
  cur_ex_.reset();
  ex->close_after = true;
  ex->head_only = false;
  pump();
}

bool Connection::wants_close(const Request& req) const noexcept {
  const auto max = server_.options.max_requests_per_connection;
  return !req.keep_alive() || server_.closing || (max && served_ + 1 >= max);
}

// ---- handlers --------------------------------------------------------------------------

bool Connection::run_chain(Request& req, std::optional<Response>& into) {
  detail::ChainRun run(*server_.shared.middleware, server_.loop, req, cur_handler_, cur_allow_);
  const bool answered = run.run_sync(into);
  if (const unsigned n = run.internal_errors()) {
    for (unsigned i = n; i; --i) ++server_.stats.handler_errors;
  }
  return answered;
}

// The inline request needs its coroutine: it gets an exchange of its own.
void Connection::continue_async(Request& req) {
  auto ex = std::make_shared<Exchange>();
  ex->conn = this;
  ex->started_ns = std::exchange(inline_started_ns_, 0);
  RequestAccess::copy_from(ex->request, req);
  RequestAccess::adopt_locals(ex->request, req);
  ex->head_only = cur_head_only_;
  ex->close_after = cur_close_;
  ex->before_done = true;
  pipeline_.push_back(ex);
  start_async(std::move(ex));
}

Response Connection::error_response(Request& req, std::exception_ptr e) {
  bool internal = false;
  Response res = server_.shared.middleware->error_response(req, std::move(e), internal);
  if (internal) ++server_.stats.handler_errors;
  return res;
}

Response Connection::server_error(const Request& req, int status, std::string_view message) {
  MiddlewareStack& stack = *server_.shared.middleware;
  Response res = stack.shaped_error(req, HttpError(status, std::string(message)));
  stack.finish_error(req, res);
  return res;
}

namespace {

// The coroutine that runs the chain and an async handler; the exchange keeps the request
// alive, and the references to the handler and the middleware keep them alive if the
// server is destroyed meanwhile.
Task<void> run_handler(std::shared_ptr<Exchange> ex, std::shared_ptr<Handler> handler,
                       std::shared_ptr<MiddlewareStack> stack, std::string allow, Loop& loop) {
  // Spawned as a microtask of its own: until its first suspension, this coroutine is
  // what the loop runs.
  if (handler) loop.set_running_label(handler->label.c_str());
  detail::ChainRun run(*stack, loop, ex->request, handler.get(), allow);
  Response res = co_await run.run_async(ex->before_done);
  if (!ex->response) ex->response.emplace(std::move(res));  // unless a 408 came first
  if (Connection* c = ex->conn) c->on_async_done(*ex, run.internal_errors());
}

}  // namespace

// The current request's coroutine handler, which keeps its own reference to the handler.
void Connection::start_async(std::shared_ptr<Exchange> ex) {
  spawn(server_.loop, run_handler(std::move(ex), cur_owner_ ? *cur_owner_ : nullptr,
                                  server_.shared.middleware, cur_allow_, server_.loop));
}

void Connection::on_async_done(Exchange& ex, unsigned internal_errors) {
  for (unsigned i = internal_errors; i; --i) ++server_.stats.handler_errors;
  // A stream_body handler that answered before its body ended (a 413 mid-upload): what it
  // left unread is dropped and reading resumes — the rest of the body is discarded as it
  // arrives (on_body) — else a connection paused at the high-water mark would neither read
  // the body nor see the client's FIN until the request timeout.
  if (BodyStream* body = RequestAccess::body_stream(ex.request)) {
    RequestAccess::discard(*body);
    resume_reading();
  }
  pump();
  flush_out();
}

// ---- responses ---------------------------------------------------------------------------

void Connection::write_head(const Response& res, bool close, int version_minor, bool chunked) {
  append_status_line(borrow_out(), res.status_code());
  out_.append(server_.date_line);
  for (const auto& [name, value] : res.headers()) {
    out_.append(name).append(": "sv).append(value).append("\r\n"sv);
  }
  if (chunked) {
    out_.append("Transfer-Encoding: chunked\r\n"sv);
  } else if (!has_no_body(res.status_code()) && !res.is_streamed()) {
    out_.append("Content-Length: "sv);
    append_decimal(out_, res.body_length());
    out_.append("\r\n"sv);
  }
  if (close) {
    out_.append("Connection: close\r\n"sv);
  } else if (version_minor == 0) {
    out_.append("Connection: keep-alive\r\n"sv);
  }
  out_.append("\r\n"sv);
}

void Connection::write_response(const Response& res, bool head_only, bool close,
                                int version_minor) {
  write_head(res, close, version_minor, false);
  if (head_only || has_no_body(res.status_code())) return;
  if (!res.has_file()) {
    out_.append(res.body());
    return;
  }
  // The head (and any responses before it) go first, then the file, zero-copy; corked, so
  // the head leaves with the file's first bytes (MSG_MORE).
  note_bytes_out(out_.size() + res.file_body().length);
  stream_.cork();
  if (!out_.empty()) stream_.write(std::string_view(out_));
  out_.clear();
  release_out();
  const FileBody& f = res.file_body();
  const bool below_mark = stream_.write_file(f.fd, f.offset, f.length, f.keep_alive);
  stream_.uncork();
  if (!below_mark) pause_reading();
}

// ---- streamed responses ----------------------------------------------------------------

namespace {

Task<void> run_producer(std::shared_ptr<Exchange> ex, BodyProducer producer) {
  std::exception_ptr error;
  try {
    co_await producer(ex->writer);
  } catch (...) {
    error = std::current_exception();
  }
  if (Connection* c = detail::BodyWriterAccess::connection(ex->writer))
    c->on_stream_done(*ex, error);
}

}  // namespace

void Connection::start_stream(std::shared_ptr<Exchange> ex) {
  Response& res = *ex->response;
  const bool http10 = ex->request.version_minor() == 0;
  if (http10) ex->close_after = true;  // the body ends where the connection does
  const bool chunked = !http10 && !has_no_body(res.status_code());
  write_head(res, ex->close_after, ex->request.version_minor(), chunked);
  if (ex->head_only || has_no_body(res.status_code())) {
    note_response(res.status_code(), ex->started_ns);
    if (ex->close_after) stop_parsing_ = true;
    return;
  }
  note_response(res.status_code(), ex->started_ns);
  ex->writer.conn_ = this;
  ex->writer.chunked_ = chunked;
  streaming_ = ex;
  spawn(server_.loop, run_producer(std::move(ex), res.take_producer()));
}

void Connection::write_body_piece(BodyWriter& w, std::string_view piece) {
  if (piece.empty()) return;  // an empty chunk would end a chunked body
  borrow_out();
  if (w.chunked_) {
    char size[20];
    int n = std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    out_.append(size, static_cast<std::size_t>(n)).append(piece).append("\r\n");
  } else {
    out_.append(piece);
  }
  flush_out();  // a failed socket closes the connection: conn_ is then null and the
                // producer's co_await throws instead of writing on forever
  w.blocked_ = w.conn_ && stream_.needs_drain();
}

void Connection::on_stream_done(Exchange& ex, std::exception_ptr error) {
  ex.writer.conn_ = nullptr;
  streaming_.reset();
  if (error) {  // the head is out already: a truncated body is all the client can see
    (void)error_response(ex.request, error);
    close_now();
    return;
  }
  if (ex.writer.chunked_) borrow_out().append("0\r\n\r\n");
  if (ex.close_after) stop_parsing_ = true;
  pump();
  flush_out();
}

void Connection::release_stream() noexcept {
  if (!streaming_) return;
  BodyWriter& w = streaming_->writer;
  w.conn_ = nullptr;
  if (auto h = std::exchange(w.waiting_, {})) {
    server_.loop.defer([h, keep = streaming_] { h.resume(); });  // it throws canceled
  }
  streaming_.reset();
}

// Writes every finished response at the front of the pipeline, in order.
void Connection::pump() {
  while (!streaming_ && !pipeline_.empty() && pipeline_.front()->response) {
    std::shared_ptr<Exchange> ex = std::move(pipeline_.front());
    pipeline_.erase(pipeline_.begin());
    ex->conn = nullptr;
    if (ex->response->upgraded()) {  // only an inline request may switch (http/upgrade.hpp)
      ex->response = server_error(ex->request, 400, "Upgrade behind pipelined requests");
      ex->close_after = true;
    }
    if (ex->response->is_streamed()) {
      start_stream(std::move(ex));
      continue;
    }
    write_response(*ex->response, ex->head_only, ex->close_after, ex->request.version_minor());
    note_response(ex->response->status_code(), ex->started_ns);
    if (ex->close_after) {
      stop_parsing_ = true;
      cancel_pipeline();  // never answered: the connection closes
    }
  }
  after_response_written();
}

void Connection::after_response_written() {
  if (!pipeline_.empty() || cur_ || closed_ || streaming_) return;
  if (stop_parsing_) return;  // flush_out() closes once the bytes are out
  set_deadline(Deadline::idle, server_.loop.now() + server_.options.keep_alive_timeout);
  if (paused_) resume_reading();
}

void Connection::flush_out() {
  if (closed_) return;
  if (!out_.empty()) {
    note_bytes_out(out_.size());
    const bool below_mark = stream_.write(std::string_view(out_));
    out_.clear();
    release_out();
    if (!below_mark && !stream_.needs_drain()) {  // the socket failed: nothing more will go
      close_now();
      return;
    }
    if (!below_mark) pause_reading();
  }
  if (stop_parsing_ && pipeline_.empty() && !cur_ && !streaming_) {
    closed_ = true;
    if (linger_ && !input_ended_ && server_.options.lingering_timeout > Duration::zero()) {
      start_lingering();
      return;
    }
    set_deadline(Deadline::none, {});
    stream_.shutdown([this](std::error_code) { stream_.close([this] { server_.remove(this); }); });
  }
}

// The FIN follows the queued response; what the client still sends is read and dropped
// until its own FIN (on_input_end), lingering_time, or lingering_max_bytes, then close.
void Connection::start_lingering() {
  lingering_ = true;
  linger_end_ = server_.loop.now() + server_.options.lingering_time;
  extend_lingering();
  stream_.shutdown([](std::error_code) {});  // a failure ends in on_error → close_now
  if (paused_) {
    paused_ = false;
    (void)stream_.read_start();
  }
}

std::size_t Connection::discard_lingering(std::size_t n) {
  lingered_ += n;
  if (lingered_ > server_.options.lingering_max_bytes) {
    close_now();
  } else {
    extend_lingering();
  }
  return n;
}

void Connection::extend_lingering() noexcept {
  set_deadline(Deadline::linger,
               std::min(linger_end_, server_.loop.now() + server_.options.lingering_timeout));
}

void Connection::pause_reading() {
  if (paused_) return;
  paused_ = true;
  stream_.read_stop();
}

void Connection::resume_reading() {
  if (!paused_ || closed_ || stream_.needs_drain()) return;
  if (pipeline_.size() >= server_.options.max_pipelined) return;
  BodyStream* body = cur_ex_ ? RequestAccess::body_stream(cur_ex_->request) : nullptr;
  if (body && RequestAccess::buffered(*body) > server_.options.high_water_mark) return;
  paused_ = false;
  stream_.read_start();
}

// ---- lifetime and deadlines -----------------------------------------------------------------

void Connection::close_now() {
  if (stream_.is_closing() || stream_.is_closed()) return;
  closed_ = true;
  set_deadline(Deadline::none, {});
  cancel_pipeline();
  release_stream();
  stream_.close([this] { server_.remove(this); });
}

bool Connection::is_idle() const noexcept {
  return pipeline_.empty() && !cur_ && !streaming_ && out_.empty() &&
         deadline_kind_ != Deadline::request && stream_.buffered_bytes() == 0;
}

// Graceful stop: every request already received (or being received) is answered; the
// last response says Connection: close; nothing after it is read.
void Connection::close_when_idle() {
  if (closed_) return;
  if (upgraded_) return upgraded_->on_server_close();
  if (is_idle()) {
    close_now();
    return;
  }
  if (cur_) {  // let its body finish; it is answered with Connection: close
    cur_close_ = true;
    if (cur_ex_) cur_ex_->close_after = true;
    return;
  }
  stop_parsing_ = true;
  if (!pipeline_.empty()) {
    pipeline_.back()->close_after = true;
  } else if (streaming_) {
    streaming_->close_after = true;
  }
  flush_out();  // closes at once if nothing is owed
}

bool Connection::parkable(TimePoint now) const noexcept {
  if (tls_) return false;  // a TLS session lives in user space: it cannot be reduced to its socket
  if (upgraded_) {
    return !closed_ && stream_.queued_bytes() == 0 && stream_.buffered_bytes() == 0 &&
           upgraded_->parkable(now, server_.options.park_idle_after);
  }
  if (deadline_kind_ != Deadline::idle || closed_ || !is_idle() || stream_.queued_bytes()) {
    return false;
  }
  const Duration idle_for = now - (deadline_ - server_.options.keep_alive_timeout);
  return idle_for >= server_.options.park_idle_after;
}

net::Socket Connection::detach_for_park() {
  net::Socket socket = stream_.detach_socket();
  if (socket) {
    closed_ = true;
    set_deadline(Deadline::none, {});
  }
  return socket;
}

void Connection::set_deadline(Deadline kind, TimePoint at) noexcept {
  deadline_kind_ = kind;
  deadline_ = at;
}

void Connection::check_deadline(TimePoint now) {
  if (deadline_kind_ == Deadline::linger && now >= deadline_) return close_now();
  if (deadline_kind_ == Deadline::none || now < deadline_ || closed_) return;
  ++server_.stats.timeouts;
  if (deadline_kind_ == Deadline::idle) {
    close_now();
    return;
  }
  // Headers or request timeout: the request being received gets a 408 (in its turn, after
  // the responses owed before it), then the connection closes.
  std::shared_ptr<Exchange> ex = cur_ex_;
  if (!ex) {
    ex = std::make_shared<Exchange>();
    ex->conn = this;
    if (cur_is_inline()) ex->started_ns = std::exchange(inline_started_ns_, 0);
    pipeline_.push_back(ex);
  }
  if (BodyStream* body = RequestAccess::body_stream(ex->request)) RequestAccess::fail(*body);
  linger_ = true;
  ex->response = server_error(cur_ ? *cur_ : ex->request, 408, reason_phrase(408));
  ex->close_after = true;
  ex->head_only = false;
  cur_ = nullptr;
  cur_ex_.reset();
  stop_parsing_ = true;
  set_deadline(Deadline::none, {});
  pump();
  flush_out();
}

// ---- metrics (http/metrics.hpp) -------------------------------------------------------------

std::int64_t Connection::note_request(const Request& req) noexcept {
  server_.metrics.request_started(req.method());
  return std::max<std::int64_t>(1, LoopProbe::to_ns(server_.loop.now()));
}

void Connection::note_response(int status, std::int64_t& started_ns) noexcept {
  const std::int64_t now = started_ns ? LoopProbe::to_ns(std::chrono::steady_clock::now()) : 0;
  server_.metrics.response_written(status, std::exchange(started_ns, 0), now);
}

void Connection::note_dropped(std::int64_t& started_ns) noexcept {
  if (std::exchange(started_ns, 0)) server_.metrics.request_dropped();
}

// ---- BodyWriter ---------------------------------------------------------------------------

BodyWriter::WriteAwaiter BodyWriter::write(std::string_view piece) {
  if (conn_ && filter_) {
    const std::string out = filter_(piece);
    if (conn_) conn_->write_body_piece(*this, out);
  } else if (conn_) {
    conn_->write_body_piece(*this, piece);
  }
  return WriteAwaiter(*this);
}

bool BodyWriter::WriteAwaiter::await_ready() const noexcept {
  return !writer_.conn_ || !writer_.blocked_;
}

void BodyWriter::WriteAwaiter::await_resume() const {
  if (!writer_.conn_) throw std::system_error(canceled_error());
}

}  // namespace weft::http
