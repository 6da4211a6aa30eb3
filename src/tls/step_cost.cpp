// Which handshake steps are worth the cpu pool (engine.hpp, step_may_sign).
//
// A server handshake is two or three SSL_do_handshake steps. Only the one that answers a
// ClientHello can be expensive: it makes the key share and, in a full handshake, the
// certificate signature (about 0.3 ms of CPU for ECDSA P-256, 1 ms for RSA-2048). The
// steps after the server's first flight process the client's second flight (TLS 1.3: its
// Finished, then a session ticket is issued; TLS 1.2: its key share, Finished, ticket):
// no signature, tens of microseconds. Sending those to the pool costs more in hand-offs
// (two thread wake-ups and a queue round trip each) than the step itself, so they run
// inline. Anything else — the first ClientHello, a second one after a HelloRetryRequest
// — may sign and goes to the pool.
//
// Even a signing step runs inline while the loop has no established server TLS connection
// (established_here() == 0, ServerConfig::handshake_inline_when_idle): then the signature
// delays only other handshakes, which wait for a signature anyway, and the pool's two
// hand-offs would add CPU (+17-30 % per handshake measured with the pool on the loop's
// core). Once a connection is established, a millisecond of RSA on the loop would add to
// its latency, so signing steps go to the pool.
#include "tls/engine.hpp"

namespace weft::tls::detail {

bool step_may_sign(const Engine& e) {
  switch (SSL_get_state(e.ssl)) {
    case TLS_ST_EARLY_DATA:    // TLS 1.3 flight sent: the client's Finished is next
    case TLS_ST_SW_FINISHED:   // a TLS 1.2 resumption's flight sent: the same
    case TLS_ST_SW_SRVR_DONE:  // TLS 1.2 full flight sent: the client's key share is next
      return false;
    default:
      return true;
  }
}

std::size_t& established_here() noexcept {
  thread_local std::size_t count = 0;
  return count;
}

}  // namespace weft::tls::detail
