// Giving an idle stream's memory back (engine.hpp, release_idle_memory).
//
// A memory BIO keeps the largest buffer it ever held: without this, every TLS connection
// would keep its handshake flight (1-2 KiB with the certificate chain) in the write BIO,
// the client's flight in the read BIO, and after a large response a 64 KiB+ write buffer,
// for as long as it stays open. OpenSSL has no call to shrink a memory BIO, so an empty
// one is replaced by a new (unallocated) one; SSL_set0_rbio/wbio free the old one.
// Replacing costs a few allocations (~1 µs per request when done after every request,
// +12 % on keep-alive HTTPS), so it is done once when the handshake ends (keep = 0) and
// afterwards only for a buffer above kIdleBioKeep: an idle connection keeps at most its
// last request's and response's ciphertext (a few hundred bytes for small ones).
#include "tls/engine.hpp"

#include <openssl/buffer.h>

namespace weft::tls::detail {
namespace {

BIO* new_mem_bio() {
  BIO* b = BIO_new(BIO_s_mem());
  if (b) BIO_set_mem_eof_return(b, -1);  // empty: "retry", not end of file (make_ssl)
  return b;
}

// The bytes a memory BIO has allocated (0 for none).
std::size_t capacity(BIO* b) {
  BUF_MEM* m = nullptr;
  BIO_get_mem_ptr(b, &m);
  return m ? m->max : 0;
}

}  // namespace

void release_idle_memory(Engine& e, std::size_t keep) {
  if (!e.ssl) return;
  if (BIO_ctrl_pending(e.rbio) == 0 && capacity(e.rbio) > keep) {
    if (BIO* b = new_mem_bio()) {
      SSL_set0_rbio(e.ssl, b);  // frees the old one
      e.rbio = b;
    }
  }
  if (BIO_ctrl_pending(e.wbio) == 0 && capacity(e.wbio) > keep) {
    if (BIO* b = new_mem_bio()) {
      SSL_set0_wbio(e.ssl, b);
      e.wbio = b;
    }
  }
  // OpenSSL's record buffers (SSL_MODE_RELEASE_BUFFERS frees them as they empty; this
  // covers what the handshake left). Refuses while they hold data.
  if (keep == 0 && SSL_pending(e.ssl) == 0) SSL_free_buffers(e.ssl);
}

}  // namespace weft::tls::detail
