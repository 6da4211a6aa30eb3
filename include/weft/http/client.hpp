// weft::http::Client and fetch(): an HTTP/1.1 client on the loop, pooled per origin.
//
//   http::ClientResponse res = co_await http::fetch("http://127.0.0.1:8080/users/1");
//   std::string body = co_await res.text();
//
//   http::FetchOptions opts;                      // keep options in a named variable (GCC 12)
//   opts.method = "POST";
//   opts.headers = {{"Content-Type", "application/json"}};
//   opts.body = R"({"a":1})";
//   opts.timeouts.total = 5s;
//   auto res = co_await client.fetch("http+unix://%2Frun%2Fapp.sock/api", opts);
//   while (true) { std::string piece = co_await res.body_chunk(); if (piece.empty()) break; }
//
// Library weft::http_client (src/http_client/), above http, tls, net and core.
//
// URLs: http://host[:port]/path?query, https://host[:port]/path?query, and
// http+unix://<percent-encoded socket path>/path (the origin is the Unix socket; Host is
// "localhost"). Fragments are dropped; userinfo is refused.
//
// HTTPS (weft's tls layer, OpenSSL 3): the server's certificate is verified by default
// against the system CA store and the URL's host (SNI + name check; an IP literal is
// checked as an address). ClientOptions::ca_file trusts one PEM bundle instead;
// verify_tls = false accepts any certificate (weft-fetch -k; tests only). A verify
// failure is FetchErrc::tls with OpenSSL's reason ("TLS certificate of localhost:8443
// rejected: certificate verify failed: certificate has expired"). Each origin keeps the
// session of its last TLS connection: the next connection to it offers that session and
// makes an abbreviated handshake when the server resumes it (tls_session_reuse).
//
// Proxies (HTTP/1.1 proxies, reached over plain TCP): an https origin is reached through
// a CONNECT tunnel (TLS runs inside it, end to end with the origin); an http origin gets
// its requests in absolute form ("GET http://host/path HTTP/1.1") sent to the proxy.
// FetchOptions::proxy, else ClientOptions::proxy, else (proxy_from_env) the environment
// read once when the Client is made: HTTPS_PROXY / https_proxy for https origins,
// HTTP_PROXY / http_proxy for http, minus the hosts NO_PROXY / no_proxy names
// (comma-separated host names, no ports or CIDR ranges; "example.com" also covers its
// subdomains; "*": all). Loopback hosts
// (localhost, 127.0.0.0/8, ::1) and http+unix never go through an environment proxy. A
// proxy that refuses (CONNECT answered with other than 2xx) or cannot be reached is
// FetchErrc::proxy, and the message says so.
//
// Proxy authentication: a proxy URL with credentials, "http://user:password@host:port"
// (percent-decoded: "p%40ss" is "p@ss"), sends "Proxy-Authorization: Basic
// base64(user:password)" on the CONNECT request and on each absolute-form request; never to
// an origin (inside a tunnel nothing of it is sent). A Proxy-Authorization field in
// FetchOptions::headers or default_headers is never sent (the proxy URL is the one place for
// proxy credentials). A 407 answer from the proxy (to CONNECT or to an absolute-form
// request) is FetchErrc::proxy: "proxy 127.0.0.1:3128 wants credentials (407 Proxy
// Authentication Required); it asks for: Basic realm="corp"; give them in the proxy URL: ...",
// or "... rejected the credentials of the proxy URL (407 ...)" when some were sent. Error
// messages never show the credentials. Only Basic is offered (no Digest, NTLM, Negotiate).
//
// https:// proxies (TLS to the proxy itself, then CONNECT inside) are refused
// (FetchErrc::bad_url, "https:// proxies (TLS to the proxy) are not supported"): that needs
// TLS over a TLS stream, and tls::Stream runs over a socket (docs/ARCHITECTURE.md, "http_client").
//
// Behaviour (fetch()'s defaults, like Node's undici):
//  * Redirects (301, 302, 303, 307, 308 with a Location) are followed up to
//    max_redirects (20; 0 returns the 3xx response). 303 — and 301/302 after a POST —
//    become a GET without body; 307/308 repeat the method and body. Authorization, Cookie
//    and Proxy-Authorization are dropped when the origin changes; https → http is refused
//    (FetchErrc::redirect_refused).
//  * Accept-Encoding: gzip, deflate, br is sent unless the caller set one, and gzip/deflate
//    (zlib) and br (brotli) bodies are decoded unless decompress = false;
//    max_response_size counts the decoded bytes (a gzip or brotli bomb stops there).
//  * Connections are kept alive and pooled per origin (ClientOptions); a request never
//    shares a connection with another in flight (no pipelining). A pooled connection the
//    server closed while it was idle (no byte of a response read) is retried once on a
//    new connection for idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE, TRACE).
//  * DNS through the loop's default resolver (net/dns.hpp: cache, de-duplication); the
//    addresses are tried in order within the connect timeout.
//
// Timeouts (zero: none): connect (DNS and TCP connect), response_headers (from the request
// written to the final response head), idle (between two reads of the body), total (the
// whole fetch, redirects included, until the body is read). Each failure names its
// timeout. Cancellation: FetchOptions::token stops the exchange where it is (the
// connection is closed, never pooled): the awaiting coroutine gets FetchErrc::cancelled.
//
// Errors: fetch(), text() and body_chunk() throw FetchError, whose what() says what
// happened ("DNS lookup of nosuch.invalid failed: Name or service not known", "connect to
// 127.0.0.1:1 refused", "response headers timeout (30000 ms) expired", "malformed
// response from 127.0.0.1:8080: invalid chunk size", "response larger than
// max_response_size (1048576 bytes)"). An HTTP error status is not an error.
//
// Lifetime: a ClientResponse owns its connection until the body was read to the end (the
// connection then goes back to the pool) or the response is destroyed (the connection is
// closed). Awaiting fetch() needs the Client alive until it returns; a response may outlive
// its Client (its connection is then closed instead of pooled). Loop thread only.
#pragma once

#include <weft/cancel.hpp>
#include <weft/clock.hpp>
#include <weft/function.hpp>
#include <weft/http/parser.hpp>
#include <weft/task.hpp>
#include <weft/tls/context.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

// res.json<T>() exists when nlohmann-json is installed (its header is then included here).
#if __has_include(<nlohmann/json.hpp>)
#include <nlohmann/json.hpp>
#define WEFT_HTTP_CLIENT_HAS_JSON 1
#endif

namespace weft {
class Loop;
}  // namespace weft

namespace weft::http {

using ClientHeaders = std::vector<std::pair<std::string, std::string>>;

enum class FetchErrc : std::uint8_t {
  bad_url,          // not a URL fetch understands
  tls_unavailable,  // (no longer raised: https:// is supported)
  dns,              // the host name did not resolve
  connect,          // every address refused or was unreachable
  timeout,          // one of the timeouts expired (the message names which)
  too_large,        // the (decoded) body passed max_response_size
  malformed,        // the server's bytes broke HTTP/1.1 (the message says how)
  truncated,        // the connection ended before the response did
  decode,           // a gzip/deflate body that does not decompress
  too_many_redirects,
  redirect_refused,  // a redirect from https to http
  cancelled,         // FetchOptions::token
  io,                // another socket error (reset...)
  tls,               // the TLS handshake failed (certificate rejected: OpenSSL's reason)
  proxy,             // the proxy was unreachable, refused the CONNECT or wants credentials (407)
};

class FetchError : public std::runtime_error {
 public:
  FetchError(FetchErrc kind, const std::string& message, std::error_code code = {})
      : std::runtime_error(message), kind_(kind), code_(code) {}
  FetchErrc kind() const noexcept { return kind_; }
  std::error_code code() const noexcept { return code_; }  // the underlying error, if any

 private:
  FetchErrc kind_;
  std::error_code code_;
};

struct FetchTimeouts {
  Duration connect = std::chrono::seconds(10);
  Duration response_headers = std::chrono::seconds(30);
  Duration idle = std::chrono::seconds(30);  // between reads of the body
  Duration total = Duration::zero();         // zero: none
};

struct FetchOptions {
  std::string method = "GET";
  // Added after the client's default headers (replacing same names). Host and
  // Content-Length are always the client's own; names must be tokens, values must not
  // hold control characters (std::invalid_argument otherwise).
  ClientHeaders headers;
  std::string body;  // sent with Content-Length (also when empty for POST/PUT/PATCH)
  // A streamed upload instead of `body`: called for the next piece until it returns an
  // empty string; sent chunked. Such a request is not repeated: no stale-connection
  // retry, and a 307/308 (or 301/302 for other than POST) is returned, not followed.
  std::function<Task<std::string>()> body_source;
  FetchTimeouts timeouts;
  std::uint64_t max_response_size = 64ull * 1024 * 1024;  // decoded body bytes
  int max_redirects = 20;
  bool decompress = true;  // send Accept-Encoding: gzip, deflate, br and decode
  // "http://[user:password@]host:port" of an HTTP proxy for this fetch (overrides
  // ClientOptions::proxy and the environment); empty: the client's choice.
  std::string proxy;
  // Send Expect: 100-continue and the body only after 100 Continue, or after 1 s without
  // an answer (as curl); a final response that comes first is returned and the body
  // never sent (the connection is then not reused).
  bool expect_continue = false;
  CancelToken token;
  // Sees every head of the exchange, redirects included: each request head as sent
  // (outgoing = true) and each final response's status and fields (false; the status
  // line is rebuilt, always "HTTP/1.1"). For tracing (weft-fetch -v); empty: none.
  std::function<void(bool outgoing, std::string_view head)> trace;
};

struct ClientOptions {
  std::size_t max_connections_per_origin = 16;  // requests past it wait for a connection
  std::size_t max_idle_per_origin = 8;          // idle connections kept for reuse
  // An idle connection is closed after this long (a sweep timer, unref'd, so idle
  // connections never keep the loop alive); keep it below the servers' keep-alive timeout.
  Duration idle_timeout = std::chrono::seconds(4);
  ClientHeaders default_headers = {{"User-Agent", "weft"}};
  // TLS (https:// origins). The Context is made on the first https fetch.
  std::string ca_file;            // PEM bundle trusted instead of the system CA store
  bool verify_tls = true;         // false: any certificate is accepted (tests, -k)
  bool tls_session_reuse = true;  // a new connection resumes the origin's last session
  tls::Context tls_context;       // when set: used as is (ca_file, verify_tls ignored)
  // "http://[user:password@]host:port" of an HTTP proxy for every origin; empty: the
  // environment's when proxy_from_env (see "Proxies" above; the environment's URLs may
  // carry credentials too).
  std::string proxy;
  bool proxy_from_env = true;
  ParserLimits limits = [] {  // status line, head size and field count of responses
    ParserLimits l;
    l.max_request_line = 8 * 1024;
    l.max_header_block = 64 * 1024;
    l.max_header_fields = 256;
    l.max_body = ParserLimits::unlimited;  // FetchOptions::max_response_size applies
    return l;
  }();
};

namespace detail {
class ClientState;
class BodyReader;
struct ResponseAccess;
}  // namespace detail

class ClientResponse {
 public:
  ClientResponse() = default;
  ClientResponse(ClientResponse&&) noexcept;
  ClientResponse& operator=(ClientResponse&&) noexcept;
  ~ClientResponse();

  int status() const noexcept { return status_; }
  const std::string& reason() const noexcept { return reason_; }
  const ClientHeaders& headers() const noexcept { return headers_; }
  // The first header named `name` (ASCII case-insensitive); empty when absent.
  std::string_view header(std::string_view name) const noexcept;
  const std::string& url() const noexcept { return url_; }  // after redirects
  int redirects() const noexcept { return redirects_; }
  bool ok() const noexcept { return status_ >= 200 && status_ < 300; }

  // The whole (decoded) body. Once: the body is consumed.
  Task<std::string> text();
  // The next piece of the (decoded) body; empty at the end.
  Task<std::string> body_chunk();
  // True once the body was read to its end.
  bool body_done() const noexcept;
#ifdef WEFT_HTTP_CLIENT_HAS_JSON
  // The body parsed as JSON and converted to T (nlohmann's from_json); throws
  // nlohmann::json::exception when it is not JSON or not a T.
  template <class T = nlohmann::json>
  Task<T> json() {
    std::string body = co_await text();
    co_return nlohmann::json::parse(body).template get<T>();
  }
#endif

 private:
  friend struct detail::ResponseAccess;
  int status_ = 0;
  std::string reason_;
  ClientHeaders headers_;
  std::string url_;
  int redirects_ = 0;
  std::unique_ptr<detail::BodyReader> body_;
};

// The callback form's result: the whole body read, or an error.
struct FetchResult {
  std::exception_ptr error;  // a FetchError (or another exception); null on success
  std::string error_message;
  ClientResponse response;  // status/headers valid when error is null
  std::string body;
};
using FetchCallback = Function<void(FetchResult&)>;

class Client {
 public:
  explicit Client(Loop& loop, ClientOptions options = {});
  ~Client();  // closes idle connections; responses in flight keep theirs until done
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Task<ClientResponse> fetch(std::string url, FetchOptions options);
  // No default argument: GCC 12 destroys a defaulted braced temporary inside a co_await
  // expression twice (docs/ARCHITECTURE.md), so the url-only form is its own overload.
  Task<ClientResponse> fetch(std::string url);
  // Callback form: fetches, reads the whole body, then calls cb on the loop thread (never
  // inside this call).
  void fetch(std::string url, FetchOptions options, FetchCallback cb);

  // Connections open to all origins (idle + in use), and idle ones.
  std::size_t connections() const noexcept;
  std::size_t idle_connections() const noexcept;
  // Connections opened since the client was created (a measure of reuse).
  std::uint64_t connections_opened() const noexcept;
  // TLS connections whose handshake resumed an earlier session of their origin.
  std::uint64_t tls_sessions_resumed() const noexcept;
  const ClientOptions& options() const noexcept;
  Loop& loop() const noexcept;

 private:
  explicit Client(std::shared_ptr<detail::ClientState> state);  // a view (callback form)
  std::shared_ptr<detail::ClientState> state_;
  bool shared_view_ = false;
};

// The current loop's default Client (per-loop, created on first use, destroyed with the
// loop's locals by Loop::close()).
Client& default_client(Loop& loop);

// co_await fetch(url, opts) on the current loop's default client.
Task<ClientResponse> fetch(std::string url, FetchOptions options);
Task<ClientResponse> fetch(std::string url);

std::string_view to_string(FetchErrc e) noexcept;

}  // namespace weft::http
