// URL parsing for the client (RFC 3986, the subset HTTP clients meet).
#include "http_client/url.hpp"

#include <weft/http/client.hpp>

#include <algorithm>
#include <charconv>

namespace weft::http::client_detail {

namespace {

[[noreturn]] void bad(std::string_view url, std::string_view why) {
  throw FetchError(FetchErrc::bad_url, "bad URL '" + std::string(url) + "': " + std::string(why));
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
  return -1;
}

std::string percent_decode(std::string_view url, std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0)
      bad(url, "bad percent-encoding");
    out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
    i += 2;
  }
  return out;
}

// Bytes a request-target may carry as they are; others are percent-encoded (a space in a
// URL typed on a command line, say).
std::string clean_target(std::string_view t) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : t) {
    const auto u = static_cast<unsigned char>(c);
    if (u > 0x20 && u < 0x7f && c != '#') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out.empty() || out.front() != '/' ? "/" + out : out;
}

void parse_authority(std::string_view url, std::string_view auth, Url& u) {
  if (auth.find('@') != std::string_view::npos) bad(url, "userinfo is not supported");
  std::string_view port;
  if (!auth.empty() && auth.front() == '[') {
    const std::size_t close = auth.find(']');
    if (close == std::string_view::npos) bad(url, "unterminated IPv6 literal");
    u.host = std::string(auth.substr(1, close - 1));
    std::string_view rest = auth.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') bad(url, "junk after IPv6 literal");
      port = rest.substr(1);
    }
  } else {
    const std::size_t colon = auth.rfind(':');
    u.host = std::string(auth.substr(0, colon));
    if (colon != std::string_view::npos) port = auth.substr(colon + 1);
  }
  if (u.host.empty()) bad(url, "no host");
  for (char c : u.host) {
    const auto uc = static_cast<unsigned char>(c);
    if (uc <= 0x20 || uc >= 0x7f || c == '/' || c == '?' || c == '#') bad(url, "invalid host");
  }
  if (port.empty()) return;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
    bad(url, "invalid port");
  u.port = static_cast<std::uint16_t>(value);
}

std::string_view scheme_of(std::string_view text) {
  const std::size_t sep = text.find("://");
  return sep == std::string_view::npos ? std::string_view() : text.substr(0, sep);
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  return true;
}

}  // namespace

Url parse_url(std::string_view text) {
  Url u;
  const std::string_view scheme = scheme_of(text);
  if (iequal(scheme, "http")) {
    u.scheme = Url::Scheme::http;
  } else if (iequal(scheme, "https")) {
    u.scheme = Url::Scheme::https;
    u.port = 443;
  } else if (iequal(scheme, "http+unix")) {
    u.scheme = Url::Scheme::http_unix;
  } else {
    bad(text,
        scheme.empty() ? "no scheme (http://, https:// or http+unix://)" : "unsupported scheme");
  }
  std::string_view rest = text.substr(scheme.size() + 3);
  rest = rest.substr(0, rest.find('#'));
  const std::size_t path_at = rest.find_first_of("/?");
  const std::string_view auth = rest.substr(0, path_at);
  u.target = clean_target(path_at == std::string_view::npos ? "/" : rest.substr(path_at));
  if (u.scheme == Url::Scheme::http_unix) {
    u.unix_path = percent_decode(text, auth);
    if (u.unix_path.empty()) bad(text, "no socket path (http+unix://%2Fpath%2Fto.sock/...)");
    u.finish();
    return u;
  }
  parse_authority(text, auth, u);
  u.finish();
  return u;
}

void Url::finish() {
  if (scheme == Scheme::http_unix) {
    origin_ = "unix:" + unix_path;
    host_header_ = "localhost";
    std::string enc;
    for (char c : unix_path) enc += c == '/' ? std::string("%2F") : std::string(1, c);
    text_ = "http+unix://" + enc + target;
    return;
  }
  const char* prefix = scheme == Scheme::https ? "https://" : "http://";
  origin_ = prefix + host + ":" + std::to_string(port);
  const bool v6 = host.find(':') != std::string::npos;
  host_header_ = v6 ? "[" + host + "]" : host;
  const std::uint16_t default_port = scheme == Scheme::https ? 443 : 80;
  if (port != default_port) host_header_ += ":" + std::to_string(port);
  text_ = prefix + host_header_ + target;
}

std::string Url::where() const {
  if (scheme == Scheme::http_unix) return unix_path;
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

ProxyCredentials split_proxy_credentials(std::string_view text) {
  ProxyCredentials out;
  const std::size_t sep = text.find("://");
  const std::size_t auth_at = sep == std::string_view::npos ? 0 : sep + 3;
  const std::size_t auth_end = std::min(text.find_first_of("/?#", auth_at), text.size());
  const std::size_t at = text.rfind('@', auth_end == 0 ? 0 : auth_end - 1);
  if (at == std::string_view::npos || at < auth_at) {
    out.url = std::string(text);
    return out;
  }
  const std::string_view userinfo = text.substr(auth_at, at - auth_at);
  out.url = std::string(text.substr(0, auth_at)) + std::string(text.substr(at + 1));
  const std::size_t colon = userinfo.find(':');
  auto refuse = [&](std::string_view why) {
    throw FetchError(FetchErrc::bad_url,
                     "bad proxy URL " + out.url + " (credentials not shown): " + std::string(why));
  };
  try {
    out.user = percent_decode(text, userinfo.substr(0, colon));
    if (colon != std::string_view::npos)
      out.password = percent_decode(text, userinfo.substr(colon + 1));
  } catch (const FetchError&) {
    refuse("bad percent-encoding in the credentials");
  }
  if (out.user.empty()) refuse("empty user name in the credentials");
  if (out.user.find(':') != std::string::npos)
    refuse("a user name cannot hold ':' (Basic authentication)");
  out.present = true;
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]) << 16 |
                                              static_cast<unsigned char>(bytes[i + 1]) << 8 |
                                              static_cast<unsigned char>(bytes[i + 2]));
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 0) return out;
  std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
  if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
  out += kAlphabet[(n >> 18) & 63];
  out += kAlphabet[(n >> 12) & 63];
  out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
  out += '=';
  return out;
}

std::string resolve_location(const Url& base, std::string_view loc) {
  if (!scheme_of(loc).empty()) return std::string(loc);
  std::string prefix = base.text();
  prefix.resize(prefix.size() - base.target.size());  // scheme://authority
  if (loc.substr(0, 2) == "//") return prefix.substr(0, prefix.find("://") + 1) + std::string(loc);
  if (!loc.empty() && loc.front() == '/') return prefix + std::string(loc);
  const std::string path = base.target.substr(0, base.target.find('?'));
  if (!loc.empty() && loc.front() == '?') return prefix + path + std::string(loc);
  return prefix + path.substr(0, path.rfind('/') + 1) + std::string(loc);
}

}  // namespace weft::http::client_detail
