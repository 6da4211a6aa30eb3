// MIME types of the web's common file types, by extension (case-insensitive).
#include <weft/http/static_files.hpp>

#include "http/parse_chars.hpp"

#include <array>
#include <utility>

namespace weft::http {
namespace {

using Entry = std::pair<std::string_view, std::string_view>;

constexpr std::array kTypes = {
    Entry{"html", "text/html; charset=utf-8"},
    Entry{"htm", "text/html; charset=utf-8"},
    Entry{"css", "text/css; charset=utf-8"},
    Entry{"js", "text/javascript; charset=utf-8"},
    Entry{"mjs", "text/javascript; charset=utf-8"},
    Entry{"json", "application/json"},
    Entry{"map", "application/json"},
    Entry{"webmanifest", "application/manifest+json"},
    Entry{"txt", "text/plain; charset=utf-8"},
    Entry{"md", "text/markdown; charset=utf-8"},
    Entry{"csv", "text/csv; charset=utf-8"},
    Entry{"xml", "application/xml"},
    Entry{"svg", "image/svg+xml"},
    Entry{"png", "image/png"},
    Entry{"jpg", "image/jpeg"},
    Entry{"jpeg", "image/jpeg"},
    Entry{"gif", "image/gif"},
    Entry{"webp", "image/webp"},
    Entry{"avif", "image/avif"},
    Entry{"ico", "image/x-icon"},
    Entry{"bmp", "image/bmp"},
    Entry{"woff", "font/woff"},
    Entry{"woff2", "font/woff2"},
    Entry{"ttf", "font/ttf"},
    Entry{"otf", "font/otf"},
    Entry{"wasm", "application/wasm"},
    Entry{"pdf", "application/pdf"},
    Entry{"zip", "application/zip"},
    Entry{"gz", "application/gzip"},
    Entry{"tar", "application/x-tar"},
    Entry{"mp3", "audio/mpeg"},
    Entry{"ogg", "audio/ogg"},
    Entry{"wav", "audio/wav"},
    Entry{"mp4", "video/mp4"},
    Entry{"webm", "video/webm"},
};

}  // namespace

std::string_view mime_type(std::string_view filename) noexcept {
  const std::size_t slash = filename.rfind('/');
  const std::size_t dot = filename.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  const std::string_view ext = filename.substr(dot + 1);
  for (const auto& [e, type] : kTypes) {
    if (chars::iequals(e, ext)) return type;
  }
  return "application/octet-stream";
}

}  // namespace weft::http
