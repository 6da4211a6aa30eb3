#include <weft/http/response.hpp>

#include "http/parse_chars.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace weft::http {
namespace {

// `s` with control bytes shown as \xNN, at most 64 bytes of it: fit for a log line.
std::string printable(std::string_view s) {
  std::string out;
  for (char ch : s.substr(0, 64)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7f) {
      out += ch;
      continue;
    }
    char esc[5];
    std::snprintf(esc, sizeof esc, "\\x%02x", c);
    out += esc;
  }
  if (s.size() > 64) out += "...";
  return out;
}

}  // namespace

Response Response::text(std::string body, int status) {
  return bytes(std::move(body), "text/plain; charset=utf-8", status);
}

Response Response::json(std::string body, int status) {
  return bytes(std::move(body), "application/json", status);
}

Response Response::bytes(std::string body, std::string_view content_type, int status) {
  Response r(status);
  r.body_ = std::move(body);
  r.header("Content-Type", content_type);
  return r;
}

Response Response::status(int status) {
  std::string body(reason_phrase(status));
  body += '\n';
  return text(std::move(body), status);
}

Response Response::file(FileBody body, std::string_view content_type, int status) {
  Response r(status);
  r.header("Content-Type", content_type);
  r.file_ = std::move(body);
  return r;
}

Response Response::stream(std::string_view content_type, BodyProducer producer, int status) {
  Response r(status);
  r.header("Content-Type", content_type);
  r.producer_ = std::move(producer);
  return r;
}

namespace {

// RFC 9110 §5.5: a field value is VCHAR, obs-text, SP and HTAB. Like Node's
// ERR_INVALID_CHAR, every other control (CR and LF above all: they would end the field
// and let the value write fields or a whole response of its own) is refused.
void check_field(std::string_view name, std::string_view value) {
  if (!chars::is_token(name)) {
    throw std::invalid_argument("invalid HTTP header name \"" + printable(name) +
                                "\": a field name is a non-empty token (RFC 9110 §5.1)");
  }
  if (chars::has_bad_value_byte(value)) {
    throw std::invalid_argument("invalid character in the value of HTTP header \"" +
                                std::string(name) + "\": \"" + printable(value) +
                                "\" (CR, LF, NUL and other controls are refused, RFC 9110 §5.5)");
  }
}

}  // namespace

// The name and value checked before they are kept (check_field); throws
// std::invalid_argument, which a handler's caller turns into a 500 and a log line.
Response& Response::header(std::string_view name, std::string_view value) & {
  check_field(name, value);
  headers_.emplace_back(std::string(name), std::string(value));
  return *this;
}

namespace {

// RFC 6265 §4.1.1 cookie-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E.
bool is_cookie_octet(unsigned char c) noexcept {
  return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
         (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

bool is_cookie_value(std::string_view v) noexcept {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  for (const char c : v) {
    if (!is_cookie_octet(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// An attribute value (path-value, domain): any CHAR but CTLs and ';'.
bool is_attribute_value(std::string_view v) noexcept {
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f || c == ';') return false;
  }
  return true;
}

}  // namespace

Response& Response::set_cookie(std::string_view name, std::string_view value,
                               const CookieOptions& o) & {
  if (name.empty() || !chars::is_token(name)) {
    throw std::invalid_argument("weft::http: cookie name is not a token: " + printable(name));
  }
  if (!is_cookie_value(value)) {
    throw std::invalid_argument("weft::http: cookie value has bytes RFC 6265 does not allow: " +
                                printable(value));
  }
  if (!is_attribute_value(o.path) || !is_attribute_value(o.domain)) {
    throw std::invalid_argument("weft::http: cookie Path or Domain has ';' or control bytes");
  }
  if (o.same_site == SameSite::none && !o.secure) {
    throw std::invalid_argument("weft::http: SameSite=None cookies must be Secure");
  }
  std::string line;
  line.append(name).append("=").append(value);
  if (o.max_age)
    line.append("; Max-Age=").append(std::to_string(std::max<long long>(0, o.max_age->count())));
  if (!o.path.empty()) line.append("; Path=").append(o.path);
  if (!o.domain.empty()) line.append("; Domain=").append(o.domain);
  if (o.secure) line.append("; Secure");
  if (o.http_only) line.append("; HttpOnly");
  switch (o.same_site) {
    case SameSite::lax:
      line.append("; SameSite=Lax");
      break;
    case SameSite::strict:
      line.append("; SameSite=Strict");
      break;
    case SameSite::none:
      line.append("; SameSite=None");
      break;
    case SameSite::unset:
      break;
  }
  return header("Set-Cookie", line);
}

Response& Response::remove_header(std::string_view name) & {
  std::erase_if(headers_, [&](const auto& field) { return chars::iequals(field.first, name); });
  return *this;
}

Response Response::redirect(std::string_view location, int status) {
  if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308) {
    throw std::invalid_argument("weft::http: Response::redirect takes 301, 302, 303, 307 or 308");
  }
  if (location.empty()) throw std::invalid_argument("weft::http: an empty redirect location");
  Response r = Response::status(status);
  r.header("Location", location);
  return r;
}

std::string_view Response::header_value(std::string_view name) const noexcept {
  for (const auto& [n, v] : headers_) {
    if (chars::iequals(n, name)) return v;
  }
  return {};
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace weft::http
