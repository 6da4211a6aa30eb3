// Percent-encoding (RFC 3986 §2.1) for what weft-serve reads from request targets and
// writes into Location and Link headers, and quoting for names inside error messages.
//
// Everything a client chose (an id, a collection name, a query value) is encoded before it
// goes into a header: the header then holds only printable ASCII without CR, LF, NUL,
// '<', '>' or '"', so it can neither end the field nor add one, nor close a Link's <...>.
#pragma once

#include <weft/http/uri.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace weft::serve {

// The HTTP layer's percent-encoding (weft/http/uri.hpp): one decoder for the whole tree.
using http::decode_component;  // strict; '+' is a space unless Plus::literal
using http::encode_query_component;
using http::encode_segment;

// Percent-decodes a path segment ('+' is a '+'). nullopt on a malformed escape.
inline std::optional<std::string> decode_segment(std::string_view s) {
  return http::decode_component(s, http::Plus::literal);
}

// `s` JSON-escaped (without the surrounding quotes) between single quotes, for a name
// inside an error message: control bytes become \u00XX, so a NUL cannot cut the message
// short (std::exception::what() is a C string) and a CR/LF cannot forge a log line.
std::string quote_name(std::string_view s);

}  // namespace weft::serve
