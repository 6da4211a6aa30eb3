// The pieces of the /_weft/ access rule that read request headers: Host and Origin names,
// and the bearer credentials of an Authorization field. Pure functions; only
// normalize_host() allocates.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace weft::observe::detail {

// The name a Host field value designates, without the port and as sent (compare it with
// same_host()): "LocalHost:8080" -> "LocalHost", "[::1]:80" -> "[::1]". nullopt when the value
// is not `uri-host [":" port]` (RFC 9110 §7.2): empty, an unclosed bracket, a port that is
// not digits, a bare IPv6 address, or characters no host name has.
std::optional<std::string_view> host_of_host_field(std::string_view value) noexcept;

// The host of an Origin field value ("http://h:8080" -> "h"); nullopt for "null" (sandboxed
// frames, file: pages) and anything not `scheme "://" host [":" port]`.
std::optional<std::string_view> host_of_origin(std::string_view value) noexcept;

// How allowed names are compared: ASCII lower case; an IPv6 literal given without its
// brackets ("::1") gets them, as it appears in Host ("[::1]").
std::string normalize_host(std::string_view name);
// A name from host_of_host_field() against a normalize_host() name: ASCII case-insensitive.
bool same_host(std::string_view name, std::string_view normalized) noexcept;

// The token of `Bearer <token>` (RFC 9110 §11.4: credentials = auth-scheme 1*SP token68;
// the scheme is case-insensitive, §11.1), or nullopt for another scheme or a malformed
// value (no token, a tab, anything after the token).
std::optional<std::string_view> bearer_token_of(std::string_view authorization) noexcept;

// given == expected, in a time that depends on expected's length only: how many leading
// bytes match, and how long `given` is, are not measurable.
bool same_secret(std::string_view given, std::string_view expected) noexcept;

}  // namespace weft::observe::detail
