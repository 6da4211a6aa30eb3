#include "http/static_path.hpp"

#include <weft/http/uri.hpp>

#include <cstdio>
#include <cstring>

namespace weft::http::detail {
namespace {

// Percent-decodes once ('+' is a '+'). Fails on a malformed escape and on escaped
// separators (%2F, %5C), whose meaning would change between decoding and splitting.
std::optional<std::string> percent_decode(std::string_view in) {
  for (std::size_t i = in.find('%'); i != std::string_view::npos; i = in.find('%', i + 1)) {
    const std::string_view escape = in.substr(i + 1, 2);
    if (escape == "2F" || escape == "2f" || escape == "5C" || escape == "5c") return std::nullopt;
  }
  return decode_component(in, Plus::literal);
}

bool is_dotfile_segment(std::string_view seg) noexcept {
  return seg.size() > 0 && seg.front() == '.' && seg != ".well-known";
}

}  // namespace

bool valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra;
    unsigned min;
    unsigned cp;
    if ((c & 0xE0) == 0xC0) {
      extra = 1, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, min = 0x10000, cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += extra + 1;
  }
  return true;
}

SafePath sanitize_path(std::string_view url_path, bool allow_dotfiles) {
  SafePath out;
  if (url_path.empty() || url_path.front() != '/') return out;
  std::optional<std::string> decoded = percent_decode(url_path);
  if (!decoded || !valid_utf8(*decoded)) return out;
  if (decoded->find('\0') != std::string::npos || decoded->find('\\') != std::string::npos) {
    return out;
  }
  out.trailing_slash = decoded->back() == '/';
  std::string_view rest = *decoded;
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (seg.empty()) continue;                  // "//" collapses
    if (seg == "." || seg == "..") return out;  // never normalized: rejected
    if (!allow_dotfiles && is_dotfile_segment(seg)) {
      out.verdict = PathVerdict::not_found;
      out.relative.clear();
      return out;
    }
    if (!out.relative.empty()) out.relative += '/';
    out.relative.append(seg);
  }
  out.verdict = PathVerdict::ok;
  return out;
}

std::string format_http_date(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
  if (text.size() != 29) return std::nullopt;  // IMF-fixdate only, as servers send
  std::string s(text);
  std::tm tm{};
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  return ::timegm(&tm);
}

}  // namespace weft::http::detail
