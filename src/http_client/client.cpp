// Client, fetch() and ClientResponse: connecting, one request/response exchange with the
// stale-connection retry, and redirects.
#include <algorithm>
#include <cstdio>
#include <functional>

#include "http/parse_chars.hpp"
#include "http_client/internal.hpp"

namespace weft::http {

using client_detail::Url;
using detail::Conn;
using detail::FetchContext;

namespace {

bool idempotent(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
    if (method == m) return true;
  return false;
}

bool has_header(const ClientHeaders& h, std::string_view name) {
  return std::any_of(h.begin(), h.end(),
                     [&](const auto& f) { return chars::iequals(f.first, name); });
}

void check_field(const std::string& name, const std::string& value) {
  if (!chars::is_token(name)) throw std::invalid_argument("invalid header name '" + name + "'");
  if (chars::has_bad_value_byte(value))
    throw std::invalid_argument("invalid value for header " + name);
}

// One field of the request head (Host and the framing fields are the client's own; so is
// Proxy-Authorization, which only goes to a proxy, from the proxy URL's credentials).
void append_field(std::string& head, const std::string& name, const std::string& value) {
  if (chars::iequals(name, "host") || chars::iequals(name, "content-length") ||
      chars::iequals(name, "transfer-encoding") || chars::iequals(name, "proxy-authorization"))
    return;
  check_field(name, value);
  head.append(name).append(": ").append(value).append("\r\n");
}

// The request head: defaults first, then the caller's fields (a caller's field replaces the
// default and earlier caller fields of its name). Appended in place: this runs per request.
// `absolute`: the request goes to an HTTP proxy, with the URL as its target and the proxy's
// credentials (`proxy_authorization`, when it has some).
std::string request_head(const Url& u, const FetchOptions& o, const ClientOptions& co,
                         bool absolute, const std::string& proxy_authorization) {
  std::string head;
  head.reserve(256);
  head.append(o.method).append(" ").append(absolute ? u.text() : u.target);
  head.append(" HTTP/1.1\r\nHost: ").append(u.host_header()).append("\r\n");
  if (absolute && !proxy_authorization.empty())
    head.append("Proxy-Authorization: ").append(proxy_authorization).append("\r\n");
  for (const auto& [name, value] : co.default_headers)
    if (!has_header(o.headers, name)) append_field(head, name, value);
  for (auto f = o.headers.begin(); f != o.headers.end(); ++f) {
    const bool replaced_later = std::any_of(
        f + 1, o.headers.end(), [&](const auto& g) { return chars::iequals(g.first, f->first); });
    if (!replaced_later) append_field(head, f->first, f->second);
  }
  if (o.decompress && !has_header(o.headers, "accept-encoding") &&
      !has_header(co.default_headers, "accept-encoding"))
    head += "Accept-Encoding: gzip, deflate, br\r\n";
  const bool body_method = o.method == "POST" || o.method == "PUT" || o.method == "PATCH";
  if (o.body_source) {
    head += "Transfer-Encoding: chunked\r\n";
  } else if (!o.body.empty() || body_method) {
    head += "Content-Length: " + std::to_string(o.body.size()) + "\r\n";
  }
  if (o.expect_continue && !o.body.empty() && !o.body_source) head += "Expect: 100-continue\r\n";
  return head + "\r\n";
}

struct Stale {};

constexpr Duration kContinueWait = std::chrono::seconds(1);

std::string response_head_text(const ClientResponse& r) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status()) + " " + r.reason() + "\r\n";
  for (const auto& [n, v] : r.headers()) out.append(n).append(": ").append(v).append("\r\n");
  return out + "\r\n";
}  // a reused connection the server had closed: retry on a new one

}  // namespace

namespace {

// Reads into conn.buf under the armed limit; 0 at the end of input.
// `expiry` (when not zero) is a soft limit: when it passes, the read returns nullopt
// instead of failing (the wait for 100 Continue).
Task<std::optional<std::size_t>> read_more(FetchContext& ctx, Conn& c, const char* doing,
                                           Duration expiry = Duration::zero()) {
  const bool soft = expiry > Duration::zero();
  CancelToken token = soft ? ctx.arm(expiry, "100-continue")
                           : ctx.arm(ctx.opts.timeouts.response_headers, "response headers");
  std::size_t n = 0;
  std::error_code ec;
  try {
    n = co_await c.stream->read_some(c.read_space(), token);
  } catch (const std::system_error& e) {
    ec = e.code();
  }
  ctx.disarm();
  c.buf.append(c.scratch.get(), n);
  // A reused connection closed under us (the broken pipe too: seen in CI, a 100-continue PUT
  // on a connection the server had just closed failed instead of being retried).
  const bool closed = detail::closed_by_peer(ec);
  if (closed && c.reused && c.parser.between_messages() && c.buf.empty()) throw Stale{};
  if (soft && ec == std::errc::operation_canceled && ctx.limit_expired()) co_return std::nullopt;
  if (ec) ctx.fail(ec, doing, c.where);
  co_return n;
}

Task<void> write_request(FetchContext& ctx, Conn& c, const std::string& bytes) {
  CancelToken token = ctx.arm(ctx.opts.timeouts.response_headers, "response headers");
  std::error_code ec;
  try {
    co_await c.stream->write_all(bytes, token);
  } catch (const std::system_error& e) {
    ec = e.code();
  }
  ctx.disarm();
  const bool stale = ec == std::errc::broken_pipe || ec == std::errc::connection_reset;
  if (stale && c.reused) throw Stale{};
  if (ec) ctx.fail(ec, "sending the request", c.where);
}

[[noreturn]] void head_failed(Conn& c, ParseErrc e) {
  if (e == ParseErrc::incomplete_response)
    throw FetchError(FetchErrc::truncated,
                     "connection to " + c.where + " closed before the response head was complete");
  throw FetchError(FetchErrc::malformed,
                   "malformed response from " + c.where + ": " + std::string(describe(e)));
}

// Reads until the final head; copies it into `res`. 100 Continue releases the body when
// the request waits for it.
Task<void> read_head(FetchContext& ctx, Conn& c, ClientResponse& res, bool& body_pending,
                     const std::string& body, void (*fill)(ClientResponse&, const ResponseHead&)) {
  bool eof = false;
  for (;;) {
    const ParseResult r = eof ? c.parser.finish(c.buf) : c.parser.parse(c.buf);
    if (r.status == ParseStatus::head_complete) {
      fill(res, c.parser.head());
      c.buf.erase(0, r.consumed);
      co_return;
    }
    if (r.status == ParseStatus::error) head_failed(c, r.error);
    c.buf.erase(0, r.consumed);
    if (eof) {  // closed before a byte of the response
      if (c.reused) throw Stale{};
      head_failed(c, ParseErrc::incomplete_response);
    }
    if (body_pending && c.parser.saw_continue()) {
      body_pending = false;
      co_await write_request(ctx, c, body);
    }
    // RFC 9110 §10.1.1: a client need not wait for 100 Continue indefinitely.
    const Duration expiry = body_pending ? kContinueWait : Duration::zero();
    const std::optional<std::size_t> n =
        co_await read_more(ctx, c, "waiting for the response", expiry);
    if (!n) {
      body_pending = false;
      co_await write_request(ctx, c, body);
      continue;
    }
    eof = *n == 0;
  }
}

}  // namespace

namespace detail {

struct ResponseAccess {
  static void fill(ClientResponse& r, const ResponseHead& h) {
    r.status_ = h.status;
    r.reason_ = h.reason;
    r.headers_.clear();
    for (const HeaderField& f : h.fields) r.headers_.emplace_back(f.name, f.value);
  }
  static void finish(ClientResponse& r, std::string url, std::unique_ptr<BodyReader> body) {
    r.url_ = std::move(url);
    r.body_ = std::move(body);
  }
  static void set_redirects(ClientResponse& r, int n) { r.redirects_ = n; }
  static BodyReader* body(ClientResponse& r) { return r.body_.get(); }
};

namespace {
void fill_head(ClientResponse& res, const ResponseHead& h) { ResponseAccess::fill(res, h); }

// FetchOptions::body_source, sent as a chunked body. Once a piece was taken the request
// cannot be repeated (no stale retry, no 307/308 redirect).
Task<void> send_streamed_body(FetchContext& ctx, Conn& c) {
  ctx.body_consumed = true;
  for (;;) {
    std::string piece = co_await ctx.opts.body_source();
    char size[24];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    std::string frame = piece.empty() ? std::string("0\r\n\r\n") : size + piece + "\r\n";
    co_await write_request(ctx, c, frame);
    if (piece.empty()) co_return;
  }
}
}  // namespace

// One attempt on one connection: the request out, the final head in.
Task<ClientResponse> attempt(std::shared_ptr<ClientState> state, std::shared_ptr<FetchContext> ctx,
                             const Url& u, std::unique_ptr<Conn>& conn) {
  const FetchOptions& o = ctx->opts;
  const bool wait_continue = o.expect_continue && !o.body.empty() && !o.body_source;
  const std::string head =
      request_head(u, o, state->options, conn->absolute_form, conn->proxy_authorization);
  if (o.trace) o.trace(true, head);
  std::string first = head;  // a named value: GCC 12 destroys co_await temporaries twice
  if (!wait_continue) first += o.body;
  co_await write_request(*ctx, *conn, first);
  if (o.body_source) co_await send_streamed_body(*ctx, *conn);
  conn->parser.start(o.method);
  ClientResponse res;
  bool body_pending = wait_continue;
  co_await read_head(*ctx, *conn, res, body_pending, o.body, &fill_head);
  if (o.trace) o.trace(false, response_head_text(res));
  if (conn->absolute_form && res.status() == 407) {  // the proxy's answer, not the origin's
    throw FetchError(FetchErrc::proxy,
                     proxy_auth_refused(conn->proxy_where, !conn->proxy_authorization.empty(),
                                        std::to_string(res.status()) + " " + res.reason(),
                                        std::string(res.header("proxy-authenticate"))));
  }
  conn->no_reuse = body_pending;  // the declared body was never sent: the framing is off
  const std::string encoding(res.header("content-encoding"));
  ResponseAccess::finish(res, u.text(),
                         std::make_unique<BodyReader>(ctx, state, std::move(conn), encoding));
  ResponseAccess::body(res)->settle_if_empty();
  co_return res;
}

// Acquires a connection (pooled or new) and runs one attempt; a stale pooled connection
// is retried once on a new one for idempotent methods.
Task<ClientResponse> exchange(std::shared_ptr<ClientState> state, std::shared_ptr<FetchContext> ctx,
                              const Url& u) {
  const detail::ProxyRoute proxy = state->proxy_for(u, ctx->opts);
  // The pool key: connections through a proxy are not the origin's direct ones, nor those
  // made with other credentials (a hash of them: the key holds no secret).
  std::string origin = u.origin();
  if (!proxy.direct()) origin += " via " + proxy.url;
  if (!proxy.authorization.empty())
    origin += " auth " + std::to_string(std::hash<std::string>{}(proxy.authorization));
  for (int tries = 0;; ++tries) {
    std::unique_ptr<Conn> conn = co_await state->acquire(*ctx, origin);
    if (!conn) {
      try {
        conn = co_await detail::open_transport(*ctx, *state, u, origin, proxy);
      } catch (...) {
        state->release(origin, nullptr);
        throw;
      }
      ++state->opened;
    }
    conn->origin = origin;
    conn->parser.reset();
    bool stale = false;
    try {
      ClientResponse res = co_await attempt(state, ctx, u, conn);
      co_return res;
    } catch (const Stale&) {
      stale = true;
    } catch (...) {
      state->release(origin, nullptr);
      throw;
    }
    state->release(origin, nullptr);
    if (!stale || tries > 0 || !idempotent(ctx->opts.method) || ctx->body_consumed) {
      throw FetchError(FetchErrc::truncated,
                       "connection to " + u.where() + " closed before the response");
    }
  }
}

}  // namespace detail

namespace {

// A redirect's body is read (and dropped) when it is short, so that its connection goes
// back to the pool; a long or unframed one is not worth it: the connection is closed.
Task<void> drain_small_body(ClientResponse& res) {
  const std::string_view length = res.header("content-length");
  if (length.empty() || length.size() > 5 || std::stoul(std::string(length)) > 64 * 1024) co_return;
  bool failed = false;
  try {
    co_await res.text();
  } catch (const FetchError&) {
    failed = true;  // the connection is gone with the response; the redirect goes on
  }
  (void)failed;
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}
}  // namespace

// ---- ClientResponse ---------------------------------------------------------------------

ClientResponse::ClientResponse(ClientResponse&&) noexcept = default;
ClientResponse& ClientResponse::operator=(ClientResponse&&) noexcept = default;
ClientResponse::~ClientResponse() = default;

std::string_view ClientResponse::header(std::string_view name) const noexcept {
  for (const auto& [n, v] : headers_)
    if (chars::iequals(n, name)) return v;
  return {};
}

bool ClientResponse::body_done() const noexcept { return !body_ || body_->done(); }

Task<std::string> ClientResponse::body_chunk() {
  if (!body_ || body_->done()) co_return std::string();
  std::string piece = co_await body_->next();
  co_return piece;
}

Task<std::string> ClientResponse::text() {
  std::string all;
  while (body_ && !body_->done()) {
    std::string piece = co_await body_->next();
    if (all.empty()) {
      all = std::move(piece);
    } else {
      all += piece;
    }
  }
  co_return all;
}

// ---- Client --------------------------------------------------------------------------

Task<ClientResponse> Client::fetch(std::string url, FetchOptions options) {
  auto state = state_;
  auto ctx = std::make_shared<FetchContext>(state->loop, std::move(options));
  std::shared_ptr<const Url> current = state->parsed_url(url);
  for (int hops = 0;; ++hops) {
    const Url& u = *current;
    ClientResponse res = co_await detail::exchange(state, ctx, u);
    detail::ResponseAccess::set_redirects(res, hops);
    const std::string_view location = res.header("location");
    if (!is_redirect(res.status()) || location.empty() || ctx->opts.max_redirects == 0)
      co_return res;
    const bool repeats_body = res.status() == 307 || res.status() == 308 ||
                              (ctx->opts.method != "POST" && res.status() != 303);
    if (ctx->body_consumed && repeats_body) co_return res;  // a streamed body cannot be sent again
    if (hops >= ctx->opts.max_redirects) {
      throw FetchError(FetchErrc::too_many_redirects, "more than " +
                                                          std::to_string(ctx->opts.max_redirects) +
                                                          " redirects (last: " + u.text() + ")");
    }
    Url next = client_detail::parse_url(client_detail::resolve_location(u, location));
    co_await drain_small_body(res);
    if (u.scheme == Url::Scheme::https && next.scheme != Url::Scheme::https)
      throw FetchError(FetchErrc::redirect_refused,
                       "refusing a redirect from https to " + next.text());
    FetchOptions& o = ctx->opts;
    const bool to_get =
        res.status() == 303 || ((res.status() == 301 || res.status() == 302) && o.method == "POST");
    if (to_get) {
      if (o.method != "HEAD") o.method = "GET";
      o.body.clear();
      o.body_source = nullptr;
      std::erase_if(o.headers, [](const auto& f) {
        return chars::iequals(f.first, "content-type") ||
               chars::iequals(f.first, "content-encoding");
      });
    }
    if (next.origin() != u.origin()) {
      std::erase_if(o.headers, [](const auto& f) {
        return chars::iequals(f.first, "authorization") || chars::iequals(f.first, "cookie") ||
               chars::iequals(f.first, "proxy-authorization");
      });
    }
    current = std::make_shared<const Url>(std::move(next));
  }
}

Client::Client(Loop& loop, ClientOptions options)
    : state_(std::make_shared<detail::ClientState>(loop, std::move(options))) {}

Client::~Client() {
  if (shared_view_) return;
  for (auto& [key, origin] : state_->origins) origin.idle.clear();
}

Task<ClientResponse> Client::fetch(std::string url) {
  FetchOptions options;
  return fetch(std::move(url), std::move(options));
}

void Client::fetch(std::string url, FetchOptions options, FetchCallback cb) {
  auto state = state_;
  spawn(state->loop,
        [](std::shared_ptr<detail::ClientState> st, std::string u, FetchOptions o,
           FetchCallback done) -> Task<void> {
          FetchResult result;
          try {
            Client view(st);
            result.response = co_await view.fetch(std::move(u), std::move(o));
            result.body = co_await result.response.text();
          } catch (const std::exception& e) {
            result.error = std::current_exception();
            result.error_message = e.what();
          }
          done(result);
        }(state, std::move(url), std::move(options), std::move(cb)));
}

Client::Client(std::shared_ptr<detail::ClientState> state)
    : state_(std::move(state)), shared_view_(true) {}

std::size_t Client::connections() const noexcept {
  std::size_t n = 0;
  for (const auto& [k, o] : state_->origins) n += o.busy + o.idle.size();
  return n;
}

std::size_t Client::idle_connections() const noexcept {
  std::size_t n = 0;
  for (const auto& [k, o] : state_->origins) n += o.idle.size();
  return n;
}

std::uint64_t Client::connections_opened() const noexcept { return state_->opened; }
std::uint64_t Client::tls_sessions_resumed() const noexcept { return state_->resumed; }
const ClientOptions& Client::options() const noexcept { return state_->options; }
Loop& Client::loop() const noexcept { return state_->loop; }

Client& default_client(Loop& loop) { return loop.local<Client>(); }

Task<ClientResponse> fetch(std::string url, FetchOptions options) {
  Loop* loop = Loop::current();
  if (loop == nullptr) throw std::logic_error("http::fetch() outside a loop thread");
  ClientResponse res = co_await default_client(*loop).fetch(std::move(url), std::move(options));
  co_return res;
}

Task<ClientResponse> fetch(std::string url) {
  FetchOptions options;
  return fetch(std::move(url), std::move(options));
}

std::string_view to_string(FetchErrc e) noexcept {
  static constexpr std::string_view kNames[] = {
      "bad_url",          "tls_unavailable", "dns",       "connect", "timeout",
      "too_large",        "malformed",       "truncated", "decode",  "too_many_redirects",
      "redirect_refused", "cancelled",       "io",        "tls",     "proxy"};
  const auto i = static_cast<std::size_t>(e);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

}  // namespace weft::http
