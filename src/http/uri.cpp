#include <weft/http/uri.hpp>

#include "http/parse_chars.hpp"

namespace weft::http {
namespace {

bool is_unreserved(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool is_sub_delim(unsigned char c) noexcept {
  return c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' || c == '*' ||
         c == '+' || c == ',' || c == ';' || c == '=';
}

template <class Keep>
std::string encode(std::string_view s, Keep keep) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (keep(c)) {
      out += ch;
      continue;
    }
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// The byte of the escape at s[i] ('%'), or -1 when it is malformed.
int escape_at(std::string_view s, std::size_t i) noexcept {
  if (i + 2 >= s.size()) return -1;
  const int hi = chars::hex_value(s[i + 1]), lo = chars::hex_value(s[i + 2]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// Decodes into out; false at the first malformed escape when strict.
bool decode_into(std::string_view s, Plus plus, bool strict, std::string& out) {
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+' && plus == Plus::space) {
      out += ' ';
    } else if (c != '%') {
      out += c;
    } else if (const int byte = escape_at(s, i); byte >= 0) {
      out += static_cast<char>(byte);
      i += 2;
    } else if (strict) {
      return false;
    } else {
      out += c;
    }
  }
  return true;
}

}  // namespace

std::optional<std::string> decode_component(std::string_view s, Plus plus) {
  std::string out;
  if (!decode_into(s, plus, true, out)) return std::nullopt;
  return out;
}

std::string decode_component_lenient(std::string_view s, Plus plus) {
  std::string out;
  decode_into(s, plus, false, out);
  return out;
}

std::string encode_segment(std::string_view s) {
  return encode(s, [](unsigned char c) {
    return is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@';
  });
}

std::string encode_query_component(std::string_view s) { return encode(s, is_unreserved); }

}  // namespace weft::http
