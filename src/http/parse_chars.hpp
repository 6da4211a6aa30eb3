// Character classes and small string helpers for the HTTP parser (internal).
// Grammar references are to RFC 9110 §5.6 (tokens, lists) and RFC 9112.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace weft::http::chars {

inline constexpr char CR = '\r';
inline constexpr char LF = '\n';

constexpr bool is_digit(unsigned char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(unsigned char c) noexcept { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|"
//       / "~" / DIGIT / ALPHA
inline constexpr std::array<bool, 256> kTokenTable = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[static_cast<std::size_t>(c)] =
        is_digit(static_cast<unsigned char>(c)) || is_alpha(static_cast<unsigned char>(c));
  }
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

constexpr bool is_tchar(char c) noexcept { return kTokenTable[static_cast<unsigned char>(c)]; }

// Index of the first non-tchar in `s` (s.size() when all are tchars).
// Four bytes per step while they are all tchars: field names are short but frequent.
// The value of a hexadecimal digit (either case), or -1.
inline constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline std::size_t token_length(std::string_view s) noexcept {
  const auto tchar = [s](std::size_t k) { return static_cast<unsigned>(is_tchar(s[k])); };
  std::size_t i = 0;
  while (i + 4 <= s.size() && (tchar(i) & tchar(i + 1) & tchar(i + 2) & tchar(i + 3)) != 0) {
    i += 4;
  }
  while (i < s.size() && is_tchar(s[i])) ++i;
  return i;
}

inline bool is_token(std::string_view s) noexcept {
  return !s.empty() && token_length(s) == s.size();
}

// Field values allow HTAB, SP, VCHAR and obs-text: everything but the other controls and
// DEL. Written as a branch-free reduction so the compiler vectorizes it (values are the
// bulk of a head).
inline bool has_bad_value_byte(std::string_view s) noexcept {
  std::uint8_t bad = 0;  // 8-bit accumulator: the vector loop stays in byte lanes
  for (char ch : s) {
    const auto c = static_cast<std::uint8_t>(ch);
    bad |= static_cast<std::uint8_t>(((c < 0x20) & (c != '\t')) | (c == 0x7f));
  }
  return bad != 0;
}

// Request-target bytes: VCHAR (0x21..0x7E) except '#' (a fragment is not part of a
// request-target, RFC 9112 §3.2). Branch-free for the same reason.
inline bool has_bad_target_byte(std::string_view s) noexcept {
  std::uint8_t bad = 0;
  for (char ch : s) {
    const auto c = static_cast<std::uint8_t>(ch);
    bad |=
        static_cast<std::uint8_t>((static_cast<std::uint8_t>(c - 0x21) > 0x7e - 0x21) | (c == '#'));
  }
  return bad != 0;
}

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c;
}

// ASCII case-insensitive equality.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Calls fn(element) for each comma-separated element of a list field value (RFC 9110
// §5.6.1), OWS-trimmed; empty elements are passed too (callers decide). Stops early and
// returns false when fn returns false.
template <class Fn>
bool for_each_element(std::string_view list, Fn&& fn) {
  for (;;) {
    const std::size_t comma = list.find(',');
    if (!fn(trim_ows(list.substr(0, comma)))) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

// Offset of the first LF in s at or after `from`, or npos. memchr is SIMD in libc.
inline std::size_t find_lf(std::string_view s, std::size_t from) noexcept {
  if (from >= s.size()) return std::string_view::npos;
  const void* hit = std::memchr(s.data() + from, LF, s.size() - from);
  if (hit == nullptr) return std::string_view::npos;
  return static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
}

}  // namespace weft::http::chars
