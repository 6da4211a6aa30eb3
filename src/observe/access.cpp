#include "observe/access.hpp"

#include <algorithm>

namespace weft::observe::detail {
namespace {

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) noexcept { return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'f'); }

// Characters of a DNS name or an IPv4 address (a subset of RFC 3986's reg-name: no
// percent-encoding or sub-delims, which no host this answers for has).
bool is_name_char(char c) noexcept {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

bool all_of(std::string_view s, bool (*pred)(char) noexcept) noexcept {
  return std::all_of(s.begin(), s.end(), [pred](char c) { return pred(c); });
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool is_scheme(std::string_view s) noexcept {
  if (s.empty() || !is_alpha(s.front())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
  });
}

}  // namespace

std::optional<std::string_view> host_of_host_field(std::string_view value) noexcept {
  std::string_view name = value, port;
  if (value.starts_with('[')) {
    const auto close = value.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    name = value.substr(0, close + 1);
    if (name.size() < 3 || !all_of(name.substr(1, name.size() - 2), [](char c) noexcept {
          return is_hex(c) || c == ':' || c == '.';
        })) {
      return std::nullopt;
    }
    std::string_view rest = value.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return std::nullopt;
    port = rest.empty() ? rest : rest.substr(1);
  } else {
    const auto colon = value.find(':');
    if (colon != std::string_view::npos) {
      name = value.substr(0, colon);
      port = value.substr(colon + 1);
    }
    if (name.empty() || !all_of(name, is_name_char)) return std::nullopt;
  }
  if (!all_of(port, is_digit)) return std::nullopt;
  return name;
}

std::optional<std::string_view> host_of_origin(std::string_view value) noexcept {
  const auto sep = value.find("://");
  if (sep == std::string_view::npos || !is_scheme(value.substr(0, sep))) return std::nullopt;
  return host_of_host_field(value.substr(sep + 3));
}

std::string normalize_host(std::string_view name) {
  const bool bare_ipv6 = name.find(':') != std::string_view::npos && !name.starts_with('[');
  return lowered(bare_ipv6 ? "[" + std::string(name) + "]" : name);
}

bool same_host(std::string_view name, std::string_view normalized) noexcept {
  if (name.size() != normalized.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (lower(name[i]) != normalized[i]) return false;
  }
  return true;
}

std::optional<std::string_view> bearer_token_of(std::string_view authorization) noexcept {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (lower(authorization[i]) != kScheme[i]) return std::nullopt;
  }
  std::string_view rest = authorization.substr(kScheme.size());
  const auto token_at = rest.find_first_not_of(' ');
  if (token_at == 0 || token_at == std::string_view::npos) return std::nullopt;  // 1*SP token
  const std::string_view token = rest.substr(token_at);
  const bool visible =
      std::all_of(token.begin(), token.end(), [](char c) { return c > ' ' && c < 0x7f; });
  return visible ? std::optional(token) : std::nullopt;
}

bool same_secret(std::string_view given, std::string_view expected) noexcept {
  std::size_t diff = given.size() ^ expected.size();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const char g = i < given.size() ? given[i] : '\0';
    diff |= static_cast<unsigned char>(g ^ expected[i]);
  }
  return diff == 0;
}

}  // namespace weft::observe::detail
