// TLS errors as std::error_code values, in three categories:
//  * weft.tls (tls::errc): weft's own conditions (handshake limit, truncation, ...);
//  * weft.tls.verify: certificate verification failures; the value is OpenSSL's
//    X509_V_ERR_* code and message() is OpenSSL's verify string ("certificate has
//    expired", "hostname mismatch", "self-signed certificate", ...);
//  * weft.tls.openssl: any other OpenSSL failure; the value packs OpenSSL's library and
//    reason codes and message() is OpenSSL's reason string ("wrong version number",
//    "unsupported protocol", "no shared cipher", ...).
// Timeouts are std::errc::timed_out, as everywhere in weft.
#pragma once

#include <system_error>
#include <type_traits>

namespace weft::tls {

enum class errc {
  handshake_limit = 1,   // too many handshakes in progress: the connection is refused
  truncated,             // the peer closed the connection without sending close_notify
  not_a_server_context,  // a server stream needs a server Context (and a client a client one)
  no_context,            // an empty Context
  handshake_failed,      // OpenSSL gave no reason
};

const std::error_category& tls_category() noexcept;
const std::error_category& verify_category() noexcept;
const std::error_category& openssl_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), tls_category()};
}

}  // namespace weft::tls

template <>
struct std::is_error_code_enum<weft::tls::errc> : std::true_type {};
