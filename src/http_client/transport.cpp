// Opening a connection: DNS, TCP (or a Unix socket), an HTTP proxy's CONNECT tunnel, and
// the TLS handshake (weft's tls layer), each under the fetch's connect timeout.
#include <weft/async.hpp>
#include <weft/net/dns.hpp>
#include <weft/tls/connect.hpp>

#include <stdexcept>

#include "http/parse_chars.hpp"
#include "http_client/internal.hpp"

namespace weft::http::detail {

using client_detail::Url;

namespace {

// Connects a Stream through its callback API: the Stream stays where its owner keeps it.
class ConnectOp {
 public:
  ConnectOp(net::Stream& s, const net::SocketAddress& to, const CancelToken& token)
      : s_(s), to_(to), token_(token) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    h_ = h;
    s_.connect(to_, [this](std::error_code ec) {
      ec_ = ec;
      reg_.detach();
      std::exchange(h_, nullptr).resume();
    });
    reg_.attach(token_, [this] { s_.close(); });  // the callback then gets operation_canceled
  }
  std::error_code await_resume() const noexcept { return ec_; }

 private:
  net::Stream& s_;
  net::SocketAddress to_;
  CancelToken token_;
  CancelRegistration reg_;
  std::coroutine_handle<> h_;
  std::error_code ec_;
};

// Where the TCP connection goes: the origin, or the proxy (named in errors as such).
struct Hop {
  const Url& url;
  bool is_proxy = false;
  std::string label() const { return (is_proxy ? "proxy " : "") + url.where(); }
};

Task<std::vector<net::SocketAddress>> addresses_of(FetchContext& ctx, const Hop& hop,
                                                   const CancelToken& token) {
  const Url& u = hop.url;
  std::vector<net::SocketAddress> addrs;
  if (u.scheme == Url::Scheme::http_unix) {
    auto a = net::SocketAddress::unix_path(u.unix_path);
    if (!a) throw FetchError(FetchErrc::bad_url, "bad Unix socket path " + u.unix_path);
    addrs.push_back(*a);
    co_return addrs;
  }
  std::error_code ec;
  try {
    addrs = co_await net::resolve(ctx.loop, u.host, u.port, token);
  } catch (const std::system_error& e) {
    ec = e.code();
  }
  if (ec == std::errc::operation_canceled) ctx.fail(ec, "resolving " + u.host, "");
  if (ec) {
    throw FetchError(hop.is_proxy ? FetchErrc::proxy : FetchErrc::dns,
                     std::string(hop.is_proxy ? "proxy " : "") + "DNS lookup of " + u.host +
                         " failed: " + ec.message(),
                     ec);
  }
  co_return addrs;
}

// Connects to each address in turn; the first that answers wins.
Task<std::unique_ptr<net::Stream>> connect_tcp(FetchContext& ctx, const Hop& hop,
                                               const CancelToken& token, std::string& where) {
  const std::vector<net::SocketAddress> addrs = co_await addresses_of(ctx, hop, token);
  std::error_code last;
  std::string last_addr;
  for (const net::SocketAddress& a : addrs) {
    auto s = std::make_unique<net::Stream>(ctx.loop);
    const std::error_code ec = co_await ConnectOp(*s, a, token);
    if (!ec) {
      where = a.to_string();
      co_return s;
    }
    last = ec;
    last_addr = a.to_string();
    if (ec == std::errc::operation_canceled)
      ctx.fail(ec, "connecting", (hop.is_proxy ? "proxy " : "") + last_addr);
  }
  ctx.disarm();
  if (last == std::errc::timed_out) ctx.fail(last, "connecting", last_addr);
  const bool refused = last == std::errc::connection_refused;
  const std::string what = (hop.is_proxy ? "proxy unreachable: connect to " : "connect to ") +
                           last_addr + (refused ? " refused" : " failed: " + last.message());
  throw FetchError(hop.is_proxy ? FetchErrc::proxy : FetchErrc::connect, what, last);
}

std::string authority(const Url& u) {
  const bool v6 = u.host.find(':') != std::string::npos;
  return (v6 ? "[" + u.host + "]" : u.host) + ":" + std::to_string(u.port);
}

constexpr std::size_t kMaxProxyHead = 16 * 1024;

// The value of the first field `name` in a response head ("" when absent).
std::string head_field(const std::string& head, std::string_view name) {
  std::size_t at = head.find("\r\n");
  while (at != std::string::npos && at + 2 < head.size()) {
    const std::size_t start = at + 2;
    const std::size_t end = head.find("\r\n", start);
    const std::string_view line = std::string_view(head).substr(
        start, (end == std::string::npos ? head.size() : end) - start);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && chars::iequals(line.substr(0, colon), name)) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      return std::string(value);
    }
    at = end;
  }
  return {};
}

// CONNECT host:port through the proxy on `s`; returns once the proxy answered 2xx.
// Nothing may follow the proxy's head before the origin speaks (TLS: the client first).
Task<void> open_tunnel(FetchContext& ctx, net::Stream& s, const Url& origin,
                       const ProxyRoute& proxy, const std::string& proxy_where,
                       const CancelToken& token) {
  const std::string target = authority(origin);
  std::string request = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
  if (!proxy.authorization.empty())
    request += "Proxy-Authorization: " + proxy.authorization + "\r\n";
  request += "\r\n";
  std::string head;
  std::error_code ec;
  try {
    co_await s.write_all(request, token);
    co_await s.read_until(head, "\r\n\r\n", kMaxProxyHead, token);
  } catch (const std::system_error& e) {
    ec = e.code();
  }
  if (ec == std::errc::operation_canceled)
    ctx.fail(ec, "waiting for the proxy's CONNECT answer", proxy_where);
  if (ec) {
    throw FetchError(
        FetchErrc::proxy,
        "proxy " + proxy_where + " did not answer CONNECT " + target + ": " + ec.message(), ec);
  }
  const std::size_t eol = head.find("\r\n");
  const std::string status_line = head.substr(0, eol);
  const bool http = status_line.size() >= 12 && status_line.compare(0, 5, "HTTP/") == 0;
  const std::size_t sp = status_line.find(' ');
  const std::string status = http && sp != std::string::npos ? status_line.substr(sp + 1) : "";
  if (status.rfind("407", 0) == 0) {
    throw FetchError(FetchErrc::proxy,
                     proxy_auth_refused(proxy_where, !proxy.authorization.empty(), status,
                                        head_field(head, "proxy-authenticate")));
  }
  if (status.empty() || status.front() != '2') {
    throw FetchError(FetchErrc::proxy, "proxy " + proxy_where + " refused CONNECT " + target +
                                           ": " + (http ? status : "not an HTTP answer"));
  }
  // The read resumed us inside the stream's data callback: let it finish, so that what is
  // buffered (nothing, from a proxy that waits for the client) is known.
  co_await weft::yield(ctx.loop);
  if (s.buffered_bytes() > 0) {
    throw FetchError(FetchErrc::proxy,
                     "proxy " + proxy_where + " sent bytes after its CONNECT answer");
  }
}

[[noreturn]] void tls_failed(const std::error_code& ec, const Url& u, const std::string& where) {
  if (ec.category() == tls::verify_category()) {
    throw FetchError(FetchErrc::tls,
                     "TLS certificate of " + u.where() + " rejected: " + ec.message(), ec);
  }
  const bool closed = closed_by_peer(ec) || ec == tls::errc::handshake_failed;
  throw FetchError(
      FetchErrc::tls,
      "TLS handshake with " + u.where() + " (" + where + ") failed: " +
          (closed ? "the server closed the connection during the handshake (" + ec.message() + ")"
                  : ec.message()),
      ec);
}

// The TLS handshake over the connected socket of `plain` (the origin, or a tunnel to it).
Task<std::unique_ptr<tls::Stream>> start_tls(FetchContext& ctx, ClientState& client,
                                             net::Stream& plain, const Url& u,
                                             const std::string& key, const std::string& where,
                                             const CancelToken& token) {
  const tls::Context& tctx = client.tls_context();
  tls::ConnectOptions o;
  o.timeout = Duration::zero();  // the fetch's connect timeout (token) bounds it
  o.token = token;
  if (client.options.tls_session_reuse) o.session = client.origins[key].session;
  net::Socket socket = plain.detach_socket();
  if (!socket) throw FetchError(FetchErrc::io, "cannot take the socket of " + where + " for TLS");
  std::error_code ec;
  std::unique_ptr<tls::Stream> s;
  try {
    s = co_await tls::connect(ctx.loop, std::move(socket), u.host, tctx, o);
  } catch (const std::system_error& e) {
    ec = e.code();
  }
  if (ec == std::errc::operation_canceled || ec == std::errc::timed_out)
    ctx.fail(ec, "in the TLS handshake", where);
  if (ec) tls_failed(ec, u, where);
  co_return s;
}

}  // namespace

std::string proxy_auth_refused(const std::string& proxy_where, bool sent_credentials,
                               const std::string& status, const std::string& challenge) {
  std::string m =
      "proxy " + proxy_where +
      (sent_credentials ? " rejected the credentials of the proxy URL (" : " wants credentials (");
  m += status + ")";
  if (!challenge.empty()) m += "; it asks for: " + challenge;
  if (!sent_credentials) m += "; give them in the proxy URL: http://user:password@host:port";
  return m;
}

Task<std::unique_ptr<Conn>> open_transport(FetchContext& ctx, ClientState& client, const Url& u,
                                           const std::string& key, const ProxyRoute& proxy) {
  std::optional<Url> proxy_url;
  if (!proxy.direct()) proxy_url = client_detail::parse_url(proxy.url);
  const Hop hop{proxy_url ? *proxy_url : u, proxy_url.has_value()};
  CancelToken token = ctx.arm(ctx.opts.timeouts.connect, "connect");
  auto conn = std::make_unique<Conn>(client.options.limits);
  std::string where;
  std::unique_ptr<net::Stream> plain = co_await connect_tcp(ctx, hop, token, where);
  conn->where = hop.is_proxy ? u.where() + " via proxy " + where : where;
  if (hop.is_proxy) conn->proxy_where = where;
  if (u.scheme != Url::Scheme::https) {
    ctx.disarm();
    conn->absolute_form = hop.is_proxy;
    if (hop.is_proxy) conn->proxy_authorization = proxy.authorization;
    conn->stream = plain.get();
    conn->plain = std::move(plain);
    co_return conn;
  }
  if (hop.is_proxy) co_await open_tunnel(ctx, *plain, u, proxy, where, token);
  std::unique_ptr<tls::Stream> s = co_await start_tls(ctx, client, *plain, u, key, where, token);
  ctx.disarm();
  if (s->session_reused()) ++client.resumed;
  conn->stream = s.get();
  conn->tls = std::move(s);
  co_return conn;
}

}  // namespace weft::http::detail
