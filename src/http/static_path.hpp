// The URL-path side of static file serving: decoding and validation, pure functions.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace weft::http::detail {

enum class PathVerdict { ok, bad_request, not_found };

struct SafePath {
  PathVerdict verdict = PathVerdict::bad_request;
  std::string relative;         // "a/b.txt", "" for the root; never absolute, no "." or ".."
  bool trailing_slash = false;  // the URL path ended with '/'
};

// Decodes a URL path once and checks every rule of static_files (see static_files.hpp).
SafePath sanitize_path(std::string_view url_path, bool allow_dotfiles);

// Strict UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
bool valid_utf8(std::string_view s) noexcept;

// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), as HTTP requires.
std::string format_http_date(std::time_t t);
std::optional<std::time_t> parse_http_date(std::string_view text);

}  // namespace weft::http::detail
