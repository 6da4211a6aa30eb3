// The SSL object of a tls::Stream and its memory BIOs (internal).
//
// Threading rule: the Engine is shared (shared_ptr) between its Stream and at most one
// handshake step running on the cpu pool. While a step runs, the loop does not touch
// `ssl` (Stream::job_running_); the pool's queue hands the object over in both directions
// (a mutex), so each side sees the other's writes. Whoever drops the last reference frees
// the SSL object: the Stream, or a step finishing after its Stream was destroyed.
#pragma once

#include "tls/context_state.hpp"

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string>
#include <system_error>

namespace weft::tls {
class Stream;
}

namespace weft::tls::detail {

struct Engine {
  Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine() { SSL_free(ssl); }

  SSL* ssl = nullptr;
  BIO* rbio = nullptr;  // ciphertext from the peer (owned by ssl)
  BIO* wbio = nullptr;  // ciphertext to the peer (owned by ssl)
  std::shared_ptr<const Built> built;
  Stream* owner = nullptr;  // loop thread only; null once the Stream is gone
};

// One SSL_do_handshake call and what it left on this thread's error queue.
struct StepResult {
  int ret = 0;
  int err = 0;
  unsigned long ossl_error = 0;
  long verify = 0;  // X509_V_OK unless the peer's certificate failed
};

// Creates the SSL object for `ctx` over two memory BIOs. Throws std::bad_alloc.
void make_ssl(Engine& e, SSL_CTX* ctx, bool server);
// Any thread (the one that owns the Engine now).
StepResult run_step(Engine& e);
// The error a failed step, read or write reports.
std::error_code step_error(const StepResult& r);
std::error_code ssl_error(SSL* ssl, int ret);
// Feeds ciphertext; moves pending output out (empty when none).
void feed(Engine& e, const char* data, std::size_t len);
std::string take_output(Engine& e);
// Whether the next server handshake step may make the certificate signature (answering
// a ClientHello): only those go to the cpu pool (step_cost.cpp).
bool step_may_sign(const Engine& e);
// Frees what an idle stream need not hold: an empty memory BIO with more than `keep`
// bytes allocated is replaced by a fresh one; with keep = 0 OpenSSL's record buffers are
// released too (idle_memory.cpp). Call when the SSL object is the caller's and every
// byte is out.
inline constexpr std::size_t kIdleBioKeep = 4096;
void release_idle_memory(Engine& e, std::size_t keep);
// Client checks: SNI and the host name (or IP address) the certificate must carry.
void set_peer_name(Engine& e, const std::string& host);

}  // namespace weft::tls::detail
