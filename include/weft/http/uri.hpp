// Percent-encoding (RFC 3986 §2.1) for request targets and the headers built from them.
// One decoder for the whole tree: static files, route params, query values and weft-serve
// all use these.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace weft::http {

// What '+' means: a '+' in a path segment, a space in a query component (HTML forms,
// application/x-www-form-urlencoded).
enum class Plus { literal, space };

// Strict: nullopt on a malformed escape ("%", "%4", "%zz").
std::optional<std::string> decode_component(std::string_view s, Plus plus = Plus::space);
// Lenient, like the WHATWG URL standard's percent-decode: a malformed escape stays as it is.
std::string decode_component_lenient(std::string_view s, Plus plus = Plus::space);

// A path segment (RFC 3986 pchar): unreserved, sub-delims, ':' and '@' as they are, every
// other byte (UTF-8 bytes one by one) as %XX.
std::string encode_segment(std::string_view s);
// A query name or value: unreserved as they are, every other byte as %XX (so '&', '=',
// '+' and '#' keep no special meaning).
std::string encode_query_component(std::string_view s);

}  // namespace weft::http
