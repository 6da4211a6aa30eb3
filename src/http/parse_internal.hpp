// Pieces of the request parser shared by the head and the body halves (internal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "weft/http/parser.hpp"

namespace weft::http::internal {

struct FieldLine {
  std::string_view name;
  std::string_view value;  // OWS-trimmed
};

// Splits one field line (without its line ending) into name and value and validates both:
// name is a token directly followed by ':'; value bytes are field-vchar / SP / HTAB.
// Used for header fields and trailer fields alike.
ParseErrc split_field_line(std::string_view line, FieldLine& out) noexcept;

// Framing rules shared by the request and the response parser (parse_head.cpp,
// parse_body.cpp): Content-Length and Transfer-Encoding values, Connection options, the
// HTTP-version, a head line without its line ending, a CR blamed for a rejected line,
// (chunked bodies: detail::ChunkedDecoder, parse_chunked.cpp).
ParseErrc note_content_length(std::string_view value, detail::HeadFacts& facts) noexcept;
ParseErrc note_transfer_encoding(std::string_view value, detail::HeadFacts& facts) noexcept;
void note_connection(std::string_view value, detail::HeadFacts& facts) noexcept;
ParseErrc parse_version(std::string_view version, std::uint8_t& minor) noexcept;
std::string_view line_content(std::string_view in, std::size_t start,
                              std::size_t line_end) noexcept;
ParseErrc blame_bare_cr(ParseErrc e, std::string_view line) noexcept;

// Offsets of a field line's name and value relative to `base`. The parser stores these
// instead of pointers because the caller may move its buffer between calls.
inline detail::FieldOffsets offsets_of(const char* base, const FieldLine& f) noexcept {
  return {static_cast<std::uint32_t>(f.name.data() - base),
          static_cast<std::uint32_t>(f.name.size()),
          static_cast<std::uint32_t>(f.value.data() - base),
          static_cast<std::uint32_t>(f.value.size())};
}

inline HeaderField view_of(const char* base, const detail::FieldOffsets& o) noexcept {
  return {std::string_view(base + o.name_at, o.name_len),
          std::string_view(base + o.value_at, o.value_len)};
}

}  // namespace weft::http::internal
