// Request: one parsed HTTP request as a handler sees it.
//
// Views (method, target, path, headers, params) stay valid for as long as the handler
// runs — for a coroutine handler, until its Task finishes, even if it suspends. The body
// is buffered (up to the server's body limit) before the handler runs.
//
// Cancellation: when the client disconnects before the response is sent, cancelled()
// becomes true; the response a handler still produces is dropped. cancel_token() is the
// same event as a CancelToken, to hand to awaitables (sleep, blocking/offload — whose job
// sees this_job::stop_requested() —, socket forms, with_cancel(token, db query)): they
// stop and throw operation_canceled when the client goes away.
#pragma once

#include <weft/cancel.hpp>
#include <weft/clock.hpp>
#include <weft/http/form.hpp>
#include <weft/http/multipart.hpp>
#include <weft/http/parser.hpp>
#include <weft/net/address.hpp>
#include <weft/task.hpp>

#include <coroutine>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft {
class Loop;
}

namespace weft::http {

// The flag the server raises when a request's client is gone, and the CancelSource it
// fires. The source is made only when a handler asks for a token (no allocation per
// request otherwise). Loop thread only.
class RequestCancel {
 public:
  RequestCancel& operator=(bool on) {
    if (on && !on_) {
      on_ = true;
      if (source_) source_->cancel();
    } else if (!on) {
      on_ = false;
      source_.reset();  // a cancelled source cannot be reused: the next request gets a new one
    }
    return *this;
  }
  explicit operator bool() const noexcept { return on_; }
  CancelToken token() {
    if (!source_) {
      source_ = std::make_unique<CancelSource>();
      if (on_) source_->cancel();
    }
    return source_->token();
  }

 private:
  bool on_ = false;
  std::unique_ptr<CancelSource> source_;
};

class Connection;

namespace detail {
// nlohmann::json, once <weft/http/json.hpp> is included (which defines JsonOf<0>): keeps
// the JSON members below out of programs that do not use them.
template <int N>
struct JsonOf;
// The server's way into a Request and its BodyStream (defined below).
struct RequestAccess;
}  // namespace detail

// The body of a request on a stream_body route, piece by piece as it arrives:
//
//   while (auto piece = co_await req.read_body()) consume(*piece);
//
// read_body() yields the next piece, or nullopt once the body is complete. While the
// handler does not read, at most the connection's high-water mark of body bytes is
// buffered: then the server stops reading the socket until the handler catches up.
// Cancellation: if the client disconnects, read_body() throws
// std::system_error(operation_canceled).
class BodyStream {
 public:
  class ReadAwaiter {
   public:
    explicit ReadAwaiter(BodyStream& s) noexcept : stream_(s) {}
    bool await_ready() const noexcept { return stream_.ready(); }
    void await_suspend(std::coroutine_handle<> h) noexcept { stream_.waiting_ = h; }
    std::optional<std::string> await_resume() { return stream_.take(); }

   private:
    BodyStream& stream_;
  };
  ReadAwaiter read() noexcept { return ReadAwaiter(*this); }

 private:
  friend struct detail::RequestAccess;

  // -- used by the server (through detail::RequestAccess) ----------------------------
  void push(std::string_view piece);
  void end() noexcept;
  void fail() noexcept;
  void discard() noexcept;  // drops the pieces not read (the handler has answered)
  std::size_t buffered() const noexcept { return buffered_; }

  bool ready() const noexcept { return !pieces_.empty() || ended_ || failed_; }
  std::optional<std::string> take();
  void wake() noexcept;

  std::deque<std::string> pieces_;
  std::size_t buffered_ = 0;
  std::coroutine_handle<> waiting_;
  Connection* conn_ = nullptr;  // told when the handler drained the buffer
  bool ended_ = false;
  bool failed_ = false;
};

class Request {
 public:
  Request() = default;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  std::string_view method() const noexcept { return method_; }
  std::string_view target() const noexcept { return target_; }  // raw, not decoded
  // The target's path (up to '?'); for an absolute-form target ("http://h/p?q") the part
  // after the authority ("/p"), so routing sees the same path either way.
  std::string_view path() const noexcept { return path_; }
  std::string_view query() const noexcept { return query_; }      // after '?', raw
  std::string_view raw_query() const noexcept { return query_; }  // the same
  int version_minor() const noexcept { return version_minor_; }
  // The host the request is for: an absolute-form target's authority, else the Host
  // field (validated by the parser as uri-host[:port]; empty when absent on HTTP/1.0).
  std::string_view host() const noexcept;
  std::string_view header(std::string_view name) const noexcept;
  std::span<const HeaderField> headers() const noexcept { return fields_; }
  // The whole body (buffered routes; empty on stream_body routes).
  const std::string& body() const noexcept { return body_; }
  // The body's form fields (application/x-www-form-urlencoded, charset parameter allowed):
  // HttpError 415 for another Content-Type. The buffered body, or on a stream_body route
  // the body read to its end (bounded by the route's max_body).
  Task<Form> form();
  // The body's multipart/form-data parts, one `handler` call per part as each arrives
  // (see multipart.hpp): HttpError 415 for another Content-Type, 400 for a malformed body,
  // 413 past `limits`. On a stream_body route the body is never held whole in memory.
  Task<void> multipart(PartHandler handler, MultipartLimits limits = {});
  // The value of cookie `name` from the Cookie field(s) (surrounding double quotes
  // removed; not percent-decoded); nullopt when absent.
  std::optional<std::string> cookie(std::string_view name) const;
  // The body as JSON: needs <weft/http/json.hpp> (see there: 415 / 400 as HttpError).
  template <int N = 0>
  typename detail::JsonOf<N>::type json() const;
  // stream_body routes: the next piece of the body (see BodyStream).
  BodyStream::ReadAwaiter read_body();
  bool keep_alive() const noexcept { return keep_alive_; }
  bool is_head() const noexcept { return method_ == "HEAD"; }

  // A route parameter (":id" in "/users/:id", "*" for the wildcard's match),
  // percent-decoded as a path segment ('+' stays a '+', "%2F" becomes '/', a malformed
  // escape stays as sent); empty when absent.
  std::string param(std::string_view name) const;
  // The same as sent, not decoded: a view into the request.
  std::string_view raw_param(std::string_view name) const noexcept;
  // Whether the matched route has the parameter (a "*" that matched nothing has it, empty).
  bool has_param(std::string_view name) const noexcept;
  // The first value of query parameter `name` (names compared after decoding),
  // percent-decoded with '+' as a space (a malformed escape stays as sent); nullopt when
  // absent. "?a" and "?a=" give "".
  std::optional<std::string> query(std::string_view name) const;
  // Every value of `name`, in the order sent.
  std::vector<std::string> query_all(std::string_view name) const;
  // The first value of a query parameter, raw (not decoded, name compared raw); empty if
  // absent. Prefer query(name).
  std::string_view raw_query(std::string_view name) const noexcept;

  bool cancelled() const noexcept { return static_cast<bool>(*cancelled_); }
  // Cancelled when cancelled() becomes true (see the file comment).
  CancelToken cancel_token() { return cancelled_->token(); }
  // When the request's first byte arrived (the loop's clock): an access log's duration is
  // measured from here.
  TimePoint start_time() const noexcept { return start_time_; }
  // The request's id: its X-Request-Id field when present and valid (1..128 characters
  // of letters, digits and "-._~:+/="), else one generated on first call (16 hex digits,
  // random per loop thread). The same value for the whole request.
  std::string_view id() const;
  // Per-request storage for middleware: the request's one T, default-constructed on first
  // use, destroyed when the request ends. Loop thread only. Callable on a const Request
  // (an after-form layer's): the storage is not part of the request's value.
  template <class T>
  T& locals() const {
    for (Local& l : locals_) {
      if (l.type == &local_tag<T>) return *static_cast<T*>(l.value.get());
    }
    locals_.push_back(Local{&local_tag<T>, {new T(), [](void* p) { delete static_cast<T*>(p); }}});
    return *static_cast<T*>(locals_.back().value.get());
  }

  // The client's address (null if unknown, e.g. getpeername failed).
  const net::SocketAddress* peer() const noexcept { return peer_.get(); }

  // The loop that runs this request's connection, its handler and every resumption of a
  // coroutine handler (with ServerOptions::workers > 1, one of several). Only for
  // requests the server made (it is the loop whose run() assigned the request).
  Loop& loop() const noexcept { return *loop_; }

 private:
  friend struct detail::RequestAccess;

  // -- used by the server (through detail::RequestAccess) -----------------------------
  void assign(const RequestHead& head);
  // Copies every view into storage owned by this request (used when the request
  // outlives the read buffer it was parsed from).
  void detach();
  // Becomes a detached copy of `other` (head, params, body).
  void copy_from(const Request& other);
  void append_body(std::string_view piece) { body_.append(piece); }
  void add_param(std::string_view name, std::string_view value) {
    params_.emplace_back(name, value);
  }
  void clear_params() noexcept { params_.clear(); }
  void set_keep_alive(bool on) noexcept { keep_alive_ = on; }
  void set_peer(std::shared_ptr<const net::SocketAddress> peer) noexcept {
    peer_ = std::move(peer);
  }
  void set_start_time(TimePoint at) noexcept { start_time_ = at; }
  // Takes other's locals (the inline request handing over to its exchange).
  void adopt_locals(Request& other) { locals_ = std::move(other.locals_); }
  BodyStream& enable_body_stream();
  BodyStream* body_stream() noexcept { return stream_.get(); }
  const std::shared_ptr<RequestCancel>& cancel_flag() const noexcept { return cancelled_; }
  void reset();
  // reset(), and frees the storage a detached head, params or a body left behind (an idle
  // keep-alive connection keeps nothing of its last request).
  void release_storage();

  struct Local {
    const void* type;
    std::unique_ptr<void, void (*)(void*)> value;
  };
  template <class T>
  static constexpr char local_tag = 0;  // its address names T (no RTTI needed)

  void set_target(std::string_view target);
  std::string_view copy_view(std::string_view v, std::string& into, const char* base) const;

  std::string_view method_, target_, path_, query_;
  std::span<const HeaderField> fields_;
  std::vector<HeaderField> owned_fields_;
  std::vector<std::pair<std::string_view, std::string_view>> params_;
  std::string storage_;
  std::string body_;
  std::shared_ptr<RequestCancel> cancelled_ = std::make_shared<RequestCancel>();
  std::unique_ptr<BodyStream> stream_;
  Loop* loop_ = nullptr;
  std::shared_ptr<const net::SocketAddress> peer_;  // kept across reset(): one per connection
  mutable std::vector<Local> locals_;
  mutable std::string id_;  // made by id() on first call
  TimePoint start_time_{};
  int version_minor_ = 1;
  bool keep_alive_ = true;
};

namespace detail {
// The library's own way into a Request and its BodyStream: what the server (connection,
// router, multipart reader) and tests that build a request by hand need, and a handler
// never does — kept out of the public interface (as detail::LoopAccess is for a Loop).
struct RequestAccess {
  static void assign(Request& r, const RequestHead& head) { r.assign(head); }
  static void detach(Request& r) { r.detach(); }
  static void copy_from(Request& r, const Request& other) { r.copy_from(other); }
  static void append_body(Request& r, std::string_view piece) { r.append_body(piece); }
  static void add_param(Request& r, std::string_view name, std::string_view value) {
    r.add_param(name, value);
  }
  static void clear_params(Request& r) noexcept { r.clear_params(); }
  static void set_keep_alive(Request& r, bool on) noexcept { r.set_keep_alive(on); }
  static void set_peer(Request& r, std::shared_ptr<const net::SocketAddress> peer) noexcept {
    r.set_peer(std::move(peer));
  }
  static void set_start_time(Request& r, TimePoint at) noexcept { r.set_start_time(at); }
  static void adopt_locals(Request& r, Request& other) { r.adopt_locals(other); }
  static BodyStream& enable_body_stream(Request& r) { return r.enable_body_stream(); }
  static BodyStream* body_stream(Request& r) noexcept { return r.body_stream(); }
  static const std::shared_ptr<RequestCancel>& cancel_flag(const Request& r) noexcept {
    return r.cancel_flag();
  }
  static void reset(Request& r) { r.reset(); }
  static void release_storage(Request& r) { r.release_storage(); }

  static void push(BodyStream& s, std::string_view piece) { s.push(piece); }
  static void end(BodyStream& s) noexcept { s.end(); }
  static void fail(BodyStream& s) noexcept { s.fail(); }
  static void discard(BodyStream& s) noexcept { s.discard(); }
  static std::size_t buffered(const BodyStream& s) noexcept { return s.buffered(); }
  // The connection told when the handler drained the buffer.
  static void set_connection(BodyStream& s, Connection* conn) noexcept { s.conn_ = conn; }
};
}  // namespace detail

}  // namespace weft::http
