// URLs as the client understands them (internal): http, https and http+unix.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weft::http::client_detail {

struct Url {
  enum class Scheme : std::uint8_t { http, https, http_unix };
  Scheme scheme = Scheme::http;
  std::string host;  // a name or an IP (IPv6 without brackets); empty for http+unix
  std::uint16_t port = 80;
  std::string unix_path;  // http+unix: the decoded socket path
  std::string target;     // origin-form: "/path?query" (never empty)

  // The pool key: scheme, host and port, or the socket path.
  const std::string& origin() const noexcept { return origin_; }
  // The Host header: host[:port] (brackets around IPv6), "localhost" for http+unix.
  const std::string& host_header() const noexcept { return host_header_; }
  // The URL back as text (no fragment).
  const std::string& text() const noexcept { return text_; }
  // Fills origin_, host_header_ and text_ from the fields above (parse_url does; they are
  // computed once, not per request).
  void finish();
  // "host:port" or the socket path, for error messages.
  std::string where() const;

 private:
  std::string origin_, host_header_, text_;
};

// Parses an absolute URL; throws FetchError(bad_url) saying what is wrong.
Url parse_url(std::string_view text);
// A proxy URL split from its credentials: "http://user:pass@host:port" gives
// url = "http://host:port" and the percent-decoded user and password (RFC 3986 userinfo;
// the password may be absent: "user@host"). Throws FetchError(bad_url) without echoing the
// credentials.
struct ProxyCredentials {
  std::string url;  // without userinfo
  std::string user, password;
  bool present = false;  // the URL had userinfo
};
ProxyCredentials split_proxy_credentials(std::string_view text);

// RFC 4648 base64 (with padding), for Proxy-Authorization: Basic.
std::string base64(std::string_view bytes);

// Resolves a Location value against the URL it came from (RFC 3986 §5, the forms servers
// send: absolute, scheme-relative "//h/p", absolute-path "/p", relative "p", "?q").
std::string resolve_location(const Url& base, std::string_view location);

}  // namespace weft::http::client_detail
