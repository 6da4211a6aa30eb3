// The tls error categories (include/weft/tls/error.hpp).
#include <weft/tls/error.hpp>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <string>

namespace weft::tls {
namespace {

class TlsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weft.tls"; }
  std::string message(int v) const override {
    switch (static_cast<errc>(v)) {
      case errc::handshake_limit:
        return "too many TLS handshakes in progress";
      case errc::truncated:
        return "the peer closed the connection without close_notify (truncated)";
      case errc::not_a_server_context:
        return "the TLS context is for the other side";
      case errc::no_context:
        return "no TLS context";
      case errc::handshake_failed:
        return "TLS handshake failed";
    }
    return "unknown weft.tls error";
  }
};

class VerifyCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weft.tls.verify"; }
  std::string message(int v) const override {
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
  }
};

class OpensslCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weft.tls.openssl"; }
  std::string message(int v) const override {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(v));
    const char* lib = ERR_lib_error_string(static_cast<unsigned long>(v));
    std::string out = "TLS: ";
    out +=
        reason ? reason : "error " + std::to_string(ERR_GET_REASON(static_cast<unsigned long>(v)));
    if (lib) out += std::string(" (") + lib + ")";
    return out;
  }
};

}  // namespace

const std::error_category& tls_category() noexcept {
  static const TlsCategory c;
  return c;
}

const std::error_category& verify_category() noexcept {
  static const VerifyCategory c;
  return c;
}

const std::error_category& openssl_category() noexcept {
  static const OpensslCategory c;
  return c;
}

}  // namespace weft::tls
