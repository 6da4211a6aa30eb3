// The client's internals: the per-fetch context (timeouts, cancellation, errors), a pooled
// connection, the pool, and the body reader (decoding). Not public.
//
// The transport: a Conn owns its byte stream as a net::Transport — a net::Stream (http,
// http+unix) or a tls::Stream (https, directly or inside a proxy's CONNECT tunnel), made by
// open_transport() (transport.cpp); nothing else here knows which one carries the bytes.
#pragma once

#include <weft/cancel.hpp>
#include <weft/http/client.hpp>
#include <weft/http/response_parser.hpp>
#include <weft/loop.hpp>
#include <weft/net/stream.hpp>
#include <weft/net/transport.hpp>
#include <weft/timer.hpp>
#include <weft/tls/session.hpp>
#include <weft/tls/stream.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "http_client/url.hpp"

namespace weft::http::detail {

// The peer closed the connection under us: a reset, a broken pipe (a write failed — the
// stream also reports that to a pending read), or (TLS) a FIN without close_notify.
inline bool closed_by_peer(const std::error_code& ec) noexcept {
  return ec == std::errc::connection_reset || ec == std::errc::broken_pipe ||
         ec == tls::errc::truncated;
}

// One fetch: the total deadline, the user's token, and the one wait armed at a time with
// its own limit. A wait gets a token that the limit, the total deadline or the user's
// token cancels; the error raised afterwards says which.
class FetchContext {
 public:
  FetchContext(Loop& loop, FetchOptions options);
  ~FetchContext();

  Loop& loop;
  FetchOptions opts;
  bool body_consumed = false;  // a piece of body_source was taken: the request cannot repeat

  // Arms a wait of at most `limit` (zero: only the total deadline and the token).
  CancelToken arm(Duration limit, const char* name);
  void disarm() noexcept;
  // Throws the FetchError for an error `ec` met while `doing` (talking to `where`).
  [[noreturn]] void fail(std::error_code ec, const std::string& doing, const std::string& where);
  // Throws when the user's token or the total deadline already fired.
  void check_alive();
  // The last armed wait ended because its own limit passed.
  bool limit_expired() const noexcept { return why_ == Why::limit; }

 private:
  enum class Why : std::uint8_t { none, limit, total, user };
  Timer timer_;
  std::unique_ptr<CancelSource> source_;
  CancelRegistration user_reg_;
  TimePoint total_due_{};
  bool has_total_ = false;
  Why why_ = Why::none;
  const char* name_ = "";
  Duration limit_{};
};

// The proxy a fetch goes through: its URL without credentials, and the Proxy-Authorization
// value made from the credentials the proxy URL carried (empty: none).
struct ProxyRoute {
  std::string url;            // "http://host:port"; empty: direct
  std::string authorization;  // "Basic <base64(user:password)>"
  bool direct() const noexcept { return url.empty(); }
};

// A connection to one origin, checked out by one exchange at a time.
struct Conn {
  explicit Conn(const ParserLimits& limits) : parser(limits) {}
  // The transport (see above): one of the two owners below (Transport's destructor is
  // protected: it is owned as its concrete type).
  net::Transport* stream = nullptr;
  std::unique_ptr<net::Stream> plain;
  std::unique_ptr<tls::Stream> tls;
  bool session_kept = false;        // its TLS session went to the pool
  bool absolute_form = false;       // requests go to an HTTP proxy: absolute URIs
  std::string proxy_authorization;  // absolute_form: sent with each request
  std::string proxy_where;          // the proxy's address (errors), when proxied
  std::string origin, where;
  std::string buf;  // bytes read, not yet consumed by the parser
  // Reads land here and are appended to buf: growing buf by a read's size would zero-fill
  // 16 KiB per read (std::string::resize), most of it never written.
  static constexpr std::size_t kReadSize = 16 * 1024;
  std::unique_ptr<char[]> scratch;
  std::span<char> read_space() {
    if (!scratch) scratch.reset(new char[kReadSize]);
    return {scratch.get(), kReadSize};
  }
  ResponseParser parser;
  TimePoint idle_since{};
  bool reused = false;
  bool no_reuse = false;  // the exchange left the framing unknown
};

class ClientState;

// Waits for a free connection slot of an origin (ClientOptions::max_connections_per_origin).
class SlotWaiter {
 public:
  SlotWaiter(ClientState& state, std::string origin, CancelToken token);
  SlotWaiter(const SlotWaiter&) = delete;
  SlotWaiter& operator=(const SlotWaiter&) = delete;
  ~SlotWaiter();
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h);
  void await_resume() const noexcept {}
  void wake();

 private:
  ClientState& state_;
  std::string origin_;
  CancelToken token_;
  CancelRegistration reg_;
  weft::detail::DeferredResume resume_;
  std::coroutine_handle<> h_;
  bool queued_ = false;
};

class ClientState : public std::enable_shared_from_this<ClientState> {
 public:
  ClientState(Loop& l, ClientOptions o);
  Loop& loop;
  ClientOptions options;
  std::uint64_t opened = 0;
  std::uint64_t resumed = 0;  // TLS handshakes that resumed a session
  // The environment's proxies (read once, in the constructor; proxy_from_env).
  std::string env_https_proxy, env_http_proxy, env_no_proxy;
  // The TLS client Context, made on the first https connection (throws FetchError(tls)).
  const tls::Context& tls_context();
  // The proxy for a fetch of u (direct() when none). Throws FetchError(bad_url).
  ProxyRoute proxy_for(const client_detail::Url& u, const FetchOptions& o) const;
  // parse_url(text), reusing the last result when the same URL is fetched again (a client
  // calling one service fetches the same few URLs over and over).
  std::shared_ptr<const client_detail::Url> parsed_url(const std::string& text);
  // Keeps a connection's TLS session for its pool key (once per connection).
  void keep_session(const std::string& key, Conn& c);

  struct Origin {
    std::vector<std::unique_ptr<Conn>> idle;
    std::size_t busy = 0;  // checked out or being opened
    std::deque<SlotWaiter*> waiters;
    tls::Session session;  // the last TLS session, offered by new connections
  };
  std::unordered_map<std::string, Origin> origins;

  // A pooled connection (reused = true), or nullptr with a slot taken (open a new one),
  // waiting for a slot when the origin is at its limit.
  Task<std::unique_ptr<Conn>> acquire(FetchContext& ctx, const std::string& origin);
  // Gives a slot back; keeps `conn` for reuse when it is given and reusable.
  void release(const std::string& origin, std::unique_ptr<Conn> conn);
  std::unique_ptr<Conn> take_idle(Origin& o);
  // Closes idle connections past idle_timeout; runs while any are idle.
  void sweep();
  void arm_sweeper();
  Timer sweeper;

 private:
  tls::Context tls_;
  std::string last_url_text_;
  std::shared_ptr<const client_detail::Url> last_url_;
};

// Opens a connection for u under `key` (the pool key): resolve, connect, the proxy's
// CONNECT tunnel, the TLS handshake — whatever the route needs (transport.cpp).
Task<std::unique_ptr<Conn>> open_transport(FetchContext& ctx, ClientState& client,
                                           const client_detail::Url& u, const std::string& key,
                                           const ProxyRoute& proxy);

// The message of FetchErrc::proxy for a 407 answer ("proxy 127.0.0.1:3128 wants
// credentials (407 Proxy Authentication Required); it asks for: Basic realm=..."): status is
// the status code and reason, challenge the Proxy-Authenticate value (may be empty).
std::string proxy_auth_refused(const std::string& proxy_where, bool sent_credentials,
                               const std::string& status, const std::string& challenge);

// Decodes a Content-Encoding (body.cpp: gzip/deflate through zlib, br through brotli),
// bounded by the output it may produce.
class Decoder {
 public:
  virtual ~Decoder() = default;
  // Appends the decoded bytes of `in` to `out`, stopping once more than `room` were
  // added (the caller then reports too_large). Throws FetchError(decode).
  virtual void feed(std::string_view in, std::string& out, std::uint64_t room) = 0;
  virtual bool finished() const noexcept = 0;  // the coded stream ended
  virtual bool started() const noexcept = 0;   // a coded byte came
};
// For a Content-Encoding value; null when it is not one the client decodes.
std::unique_ptr<Decoder> make_decoder(std::string_view content_encoding);

// Reads a response body off its connection, decoding it, and hands the connection back
// to the pool at the end.
class BodyReader {
 public:
  BodyReader(std::shared_ptr<FetchContext> ctx, std::weak_ptr<ClientState> client,
             std::unique_ptr<Conn> conn, std::string_view content_encoding);
  ~BodyReader();
  Task<std::string> next();
  bool done() const noexcept { return done_; }
  // After the head: completes a body-less response at once (the connection goes back).
  void settle_if_empty();

 private:
  enum class Step : std::uint8_t { deliver, parse_again, read };
  Step step(std::string& out);  // one parse call
  void finish_message();
  void append_decoded(std::string_view piece, std::string& out);

  std::shared_ptr<FetchContext> ctx_;
  std::weak_ptr<ClientState> client_;
  std::unique_ptr<Conn> conn_;
  std::unique_ptr<Decoder> inflater_;
  std::uint64_t delivered_ = 0;
  bool eof_ = false, done_ = false;
};

}  // namespace weft::http::detail
