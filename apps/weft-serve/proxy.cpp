// weft-serve's reverse proxy (proxy.hpp): one stream_body route per method and prefix.
#include "proxy.hpp"

#include <weft/http/client.hpp>
#include <weft/loop.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

namespace weft::serve {

namespace {

using http::ClientResponse;
using http::FetchError;
using http::Request;
using http::Response;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// Hop-by-hop fields (RFC 9110 §7.6.1), plus those a proxy always sets itself.
bool hop_by_hop(std::string_view name, std::string_view connection) {
  for (std::string_view h :
       {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length", "expect"}) {
    if (iequals(name, h)) return true;
  }
  // ... and every field the Connection header names
  std::size_t at = 0;
  while (at < connection.size()) {
    std::size_t end = connection.find(',', at);
    if (end == std::string_view::npos) end = connection.size();
    std::string_view option = connection.substr(at, end - at);
    while (!option.empty() && option.front() == ' ') option.remove_prefix(1);
    while (!option.empty() && option.back() == ' ') option.remove_suffix(1);
    if (!option.empty() && iequals(option, name)) return true;
    at = end + 1;
  }
  return false;
}

http::ClientHeaders forwarded_headers(const Request& req, const ProxyOptions& opts) {
  http::ClientHeaders out;
  const std::string_view connection = req.header("connection");
  for (const http::HeaderField& f : req.headers()) {
    if (hop_by_hop(f.name, connection) || iequals(f.name, "x-forwarded-for")) continue;
    out.emplace_back(f.name, f.value);
  }
  std::string for_chain(req.header("x-forwarded-for"));
  const std::string peer = req.peer() ? req.peer()->ip() : std::string("unknown");
  out.emplace_back("X-Forwarded-For", for_chain.empty() ? peer : for_chain + ", " + peer);
  if (!req.host().empty()) out.emplace_back("X-Forwarded-Host", req.host());
  out.emplace_back("X-Forwarded-Proto", opts.forwarded_proto);
  return out;
}

bool has_body(const Request& req) {
  const std::string_view length = req.header("content-length");
  return (!length.empty() && length != "0") || !req.header("transfer-encoding").empty();
}

Task<void> pump(std::shared_ptr<ClientResponse> upstream, http::BodyWriter& out) {
  for (;;) {
    std::string piece = co_await upstream->body_chunk();
    if (piece.empty()) co_return;
    co_await out.write(piece);
  }
}

Response error_response(const FetchError& e) {
  const int status = e.kind() == http::FetchErrc::timeout ? 504 : 502;
  const nlohmann::json body = {{"error", std::string("upstream: ") + e.what()},
                               {"kind", std::string(http::to_string(e.kind()))}};
  return Response::json(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                        status);
}

// The clients of one loop made for TLS settings other than the default client's, one per
// (ca_file, verify_tls); destroyed with the loop's locals.
struct ProxyClients {
  std::vector<std::pair<std::string, std::unique_ptr<http::Client>>> clients;
};

http::Client& client_for(Loop& loop, const ProxyOptions& opts) {
  if (opts.ca_file.empty() && opts.verify_tls) return http::default_client(loop);
  ProxyClients& all = loop.local<ProxyClients>();
  const std::string key = (opts.verify_tls ? "verify:" : "insecure:") + opts.ca_file;
  for (auto& [k, client] : all.clients)
    if (k == key) return *client;
  http::ClientOptions co;
  co.ca_file = opts.ca_file;
  co.verify_tls = opts.verify_tls;
  all.clients.emplace_back(key, std::make_unique<http::Client>(loop, co));
  return *all.clients.back().second;
}

Task<Response> forward(const ProxyRule& rule, const ProxyOptions& opts, Request& req) {
  std::string url = rule.upstream + std::string(req.raw_param("*"));
  if (!req.query().empty()) url += "?" + std::string(req.query());
  http::FetchOptions fo;
  fo.method = std::string(req.method());
  fo.headers = forwarded_headers(req, opts);
  fo.decompress = false;
  fo.max_redirects = 0;
  fo.max_response_size = ~std::uint64_t{0};
  fo.timeouts.connect = opts.connect_timeout;
  fo.timeouts.response_headers = opts.response_timeout;
  fo.timeouts.idle = opts.idle_timeout;
  fo.token = req.cancel_token();
  if (has_body(req)) {
    fo.body_source = [&req]() -> Task<std::string> {
      for (;;) {
        std::optional<std::string> piece = co_await req.read_body();
        if (!piece) co_return std::string();
        if (!piece->empty()) co_return std::move(*piece);
      }
    };
  }
  std::shared_ptr<ClientResponse> upstream;
  std::optional<Response> failed;
  try {
    ClientResponse res = co_await client_for(req.loop(), opts).fetch(std::move(url), std::move(fo));
    upstream = std::make_shared<ClientResponse>(std::move(res));
  } catch (const FetchError& e) {
    failed = error_response(e);
  }
  if (failed) co_return std::move(*failed);
  const std::string content_type(upstream->header("content-type"));
  Response out = Response::stream(
      content_type, [upstream](http::BodyWriter& w) { return pump(upstream, w); },
      upstream->status());
  const std::string connection(upstream->header("connection"));
  for (const auto& [name, value] : upstream->headers()) {
    if (hop_by_hop(name, connection) || iequals(name, "content-type") || iequals(name, "date") ||
        iequals(name, "server"))
      continue;
    out.header(name, value);
  }
  co_return out;
}

}  // namespace

bool parse_proxy_rule(std::string_view text, ProxyRule& out) {
  const std::size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0 || text[0] != '/') return false;
  out.prefix = std::string(text.substr(0, eq));
  out.upstream = std::string(text.substr(eq + 1));
  const bool scheme = out.upstream.rfind("http://", 0) == 0 ||
                      out.upstream.rfind("https://", 0) == 0 ||
                      out.upstream.rfind("http+unix://", 0) == 0;
  if (!scheme) return false;
  if (out.prefix.back() != '/') out.prefix += '/';
  const std::size_t authority = out.upstream.find("://") + 3;
  if (out.upstream.find('/', authority) == std::string::npos) out.upstream += '/';
  if (out.upstream.back() != '/') out.upstream += '/';
  return true;
}

void mount_proxy(http::Server& server, const ProxyOptions& options) {
  auto shared = std::make_shared<ProxyOptions>(options);
  for (const ProxyRule& rule : shared->rules) {
    const ProxyRule* r = &rule;
    for (std::string_view method : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
      http::RouteOptions ro;
      ro.stream_body = true;
      ro.max_body = ~std::uint64_t{0} >> 1;
      server.route(
          method, rule.prefix + "*",
          [shared, r](Request& req) -> Task<Response> { return forward(*r, *shared, req); }, ro);
    }
  }
}

}  // namespace weft::serve
