// Percent-encoding (RFC 3986 §2.1) for what weft-serve reads from request targets and
// writes into Location and Link headers, and quoting for names inside error messages.
//
// Everything a client chose (an id, a collection name, a query value) is encoded before it
// goes into a header: the header then holds only printable ASCII without CR, LF, NUL,
// '<', '>' or '"', so it can neither end the field nor add one, nor close a Link's <...>.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace weft::serve {

// A path segment (RFC 3986 pchar): unreserved, sub-delims, ':' and '@' as they are, every
// other byte (UTF-8 bytes one by one) as %XX.
std::string encode_segment(std::string_view s);
// A query name or value: unreserved as they are, every other byte as %XX (so '&', '=',
// '+' and '#' keep no special meaning when the link is followed).
std::string encode_query_component(std::string_view s);

// Percent-decodes a path segment ('+' is a '+'). nullopt on a malformed escape.
std::optional<std::string> decode_segment(std::string_view s);
// Percent-decodes a query component ('+' is a space, as in HTML forms). nullopt on a
// malformed escape.
std::optional<std::string> decode_component(std::string_view s);

// `s` JSON-escaped (without the surrounding quotes) between single quotes, for a name
// inside an error message: control bytes become \u00XX, so a NUL cannot cut the message
// short (std::exception::what() is a C string) and a CR/LF cannot forge a log line.
std::string quote_name(std::string_view s);

}  // namespace weft::serve
