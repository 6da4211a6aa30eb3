// tls::Session and Stream::session(): client-side session resumption.
#include "tls/engine.hpp"

#include <weft/tls/session.hpp>
#include <weft/tls/stream.hpp>

#include <openssl/ssl.h>

namespace weft::tls {

Session Session::adopt(ssl_session_st* s) {
  Session out;
  if (s)
    out.s_ = std::shared_ptr<ssl_session_st>(s, [](ssl_session_st* p) { SSL_SESSION_free(p); });
  return out;
}

// Only between pool steps (a client's handshake may run on the pool too, when configured)
// and only a session a server could resume: TLS 1.3 makes it resumable when the ticket
// arrives, after the handshake. A copy: OpenSSL marks a connection's own session
// non-resumable when the connection is freed without a close_notify exchange (a pooled
// connection dropped, a reset), which must not spoil the copy kept for the next one.
Session Stream::session() const {
  if (server_ || !hs_done_ || job_running_ || !eng_->ssl) return {};
  SSL_SESSION* current = SSL_get0_session(eng_->ssl);
  if (!current || SSL_SESSION_is_resumable(current) != 1) return {};
  return Session::adopt(SSL_SESSION_dup(current));
}

}  // namespace weft::tls
