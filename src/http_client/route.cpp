// A client's routes: which proxy (if any) a fetch goes through (options, then the
// environment read once), and its TLS Context and sessions.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include "http_client/internal.hpp"

namespace weft::http::detail {

using client_detail::Url;

namespace {

std::string env(const char* upper, const char* lower) {
  const char* v = std::getenv(upper);
  if (!v || !*v) v = std::getenv(lower);
  return v ? v : "";
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// Hosts a proxy could not reach on the client's behalf.
bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0 ||
         (host.size() > 10 && host.compare(host.size() - 10, 10, ".localhost") == 0);
}

// NO_PROXY: comma-separated names; "example.com" and ".example.com" cover the name and its
// subdomains; "*" covers everything. IP literals match exactly (no CIDR ranges).
bool no_proxy_covers(const std::string& list, const std::string& host) {
  const std::string h = lower(host);
  std::size_t at = 0;
  while (at <= list.size()) {
    std::size_t comma = list.find(',', at);
    if (comma == std::string::npos) comma = list.size();
    std::string entry = lower(trim(std::string_view(list).substr(at, comma - at)));
    at = comma + 1;
    if (entry == "*") return true;
    if (!entry.empty() && entry.front() == '.') entry.erase(0, 1);
    if (entry.empty()) continue;
    if (h == entry) return true;
    if (h.size() > entry.size() && h.compare(h.size() - entry.size(), entry.size(), entry) == 0 &&
        h[h.size() - entry.size() - 1] == '.')
      return true;
  }
  return false;
}

// "host:port" is taken as "http://host:port"; credentials ("http://user:pass@host:port")
// become the Proxy-Authorization value. Only plain-HTTP proxies: TLS to the proxy would need
// a TLS stream over a TLS stream, which tls::Stream (over a socket) does not offer.
ProxyRoute normalize_proxy(const std::string& p) {
  client_detail::ProxyCredentials split = client_detail::split_proxy_credentials(
      p.find("://") == std::string::npos ? "http://" + p : p);
  const Url parsed = client_detail::parse_url(split.url);
  if (parsed.scheme == Url::Scheme::https) {
    throw FetchError(FetchErrc::bad_url,
                     "proxy '" + split.url +
                         "': https:// proxies (TLS to the proxy) are not supported; use an "
                         "http:// proxy (https origins still get TLS end to end through its "
                         "CONNECT tunnel)");
  }
  if (parsed.scheme != Url::Scheme::http)
    throw FetchError(FetchErrc::bad_url,
                     "proxy '" + split.url + "': only http:// proxies are supported");
  ProxyRoute route;
  route.url = split.url;
  if (split.present)
    route.authorization = "Basic " + client_detail::base64(split.user + ":" + split.password);
  return route;
}

}  // namespace

ClientState::ClientState(Loop& l, ClientOptions o) : loop(l), options(std::move(o)), sweeper(l) {
  sweeper.unref();  // idle connections never keep the loop alive
  if (options.proxy.empty() && options.proxy_from_env) {
    env_https_proxy = env("HTTPS_PROXY", "https_proxy");
    env_http_proxy = env("HTTP_PROXY", "http_proxy");
    env_no_proxy = env("NO_PROXY", "no_proxy");
  }
}

ProxyRoute ClientState::proxy_for(const Url& u, const FetchOptions& o) const {
  if (u.scheme == Url::Scheme::http_unix) return {};  // a local socket: never proxied
  if (!o.proxy.empty()) return normalize_proxy(o.proxy);
  if (!options.proxy.empty()) return normalize_proxy(options.proxy);
  const std::string& from_env = u.scheme == Url::Scheme::https ? env_https_proxy : env_http_proxy;
  if (from_env.empty() || is_loopback(u.host) || no_proxy_covers(env_no_proxy, u.host)) return {};
  return normalize_proxy(from_env);
}

const tls::Context& ClientState::tls_context() {
  if (tls_) return tls_;
  if (options.tls_context) return tls_ = options.tls_context;
  tls::ClientConfig c;
  c.ca_file = options.ca_file;
  c.verify = options.verify_tls;
  try {
    tls_ = tls::Context::client(c);
  } catch (const std::exception& e) {  // an unreadable CA file, a broken system store
    throw FetchError(FetchErrc::tls, e.what());
  }
  return tls_;
}

std::shared_ptr<const Url> ClientState::parsed_url(const std::string& text) {
  if (last_url_ && text == last_url_text_) return last_url_;
  auto parsed = std::make_shared<const Url>(client_detail::parse_url(text));  // throws bad_url
  last_url_text_ = text;
  last_url_ = parsed;
  return parsed;
}

void ClientState::keep_session(const std::string& key, Conn& c) {
  if (!options.tls_session_reuse) return;
  tls::Session s = c.tls->session();
  if (!s) return;  // no ticket yet: try again after the next exchange
  origins[key].session = std::move(s);
  c.session_kept = true;
}

}  // namespace weft::http::detail
