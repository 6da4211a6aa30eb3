// The SSL object of a tls::Stream and the BIO it reads and writes through (internal).
//
// Threading rule: the Engine is shared (shared_ptr) between its Stream and at most one
// handshake step running on the cpu pool. While a step runs, the loop does not touch
// `ssl` (Stream::job_running_); the pool's queue hands the object over in both directions
// (a mutex), so each side sees the other's writes. Whoever drops the last reference frees
// the SSL object: the Stream, or a step finishing after its Stream was destroyed.
#pragma once

#include "tls/context_state.hpp"

#include <openssl/err.h>
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
  BIO* bio = nullptr;  // ssl's read and write BIO (owned by ssl), over the fields below (bio.cpp)
  // Ciphertext from the peer that OpenSSL has not read yet: `in` from `in_pos` (owned:
  // handshake input, leftovers), then `window` (borrowed from the inner stream's read
  // buffer while on_cipher runs). `in` is freed once read, so an idle stream holds none.
  std::string in;
  std::size_t in_pos = 0;
  const char* window = nullptr;
  std::size_t window_len = 0;
  // Ciphertext OpenSSL wrote, moved out whole by take_output() into the inner stream's
  // queue (no copy, and nothing kept between flushes).
  std::string out;
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

// Empties this thread's OpenSSL error queue before an SSL call whose failure is read with
// SSL_get_error (which needs it empty). Peeks first: ERR_clear_error() visits all 16 slots
// of the queue (~800 instructions, 3 % of a keep-alive HTTPS request under callgrind) and
// the queue is almost always empty already.
inline void clear_errors() noexcept {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

// Creates the SSL object for `ctx` over the Engine's BIO. Throws std::bad_alloc.
void make_ssl(Engine& e, SSL_CTX* ctx, bool server);
// A BIO reading and writing e's `in`/window and `out` (null: out of memory; bio.cpp).
BIO* new_engine_bio(Engine& e);
// Any thread (the one that owns the Engine now).
StepResult run_step(Engine& e);
// The error a failed step, read or write reports.
std::error_code step_error(const StepResult& r);
std::error_code ssl_error(SSL* ssl, int ret);
// Feeds ciphertext (copied into `in`); moves pending output out (empty when none).
void feed(Engine& e, const char* data, std::size_t len);
std::string take_output(Engine& e);
// Lends OpenSSL [data, data + len) until keep_unread(): no copy when it reads every byte
// (the common case: whole records). keep_unread() copies what it left into `in`.
void lend(Engine& e, const char* data, std::size_t len) noexcept;
void keep_unread(Engine& e);
// Ciphertext waiting for OpenSSL to read it (`in` and the window).
std::size_t unread(const Engine& e) noexcept;
// Whether the next server handshake step may make the certificate signature (answering
// a ClientHello): only those go to the cpu pool (step_cost.cpp).
bool step_may_sign(const Engine& e);
// Server TLS streams of this thread's loop (a loop owns its thread) whose handshake is
// done and which are not closed: the connections a signing step run inline would delay
// (ServerConfig::handshake_inline_when_idle). Loop thread only (step_cost.cpp).
std::size_t& established_here() noexcept;
// Frees OpenSSL's record buffers (the handshake leaves them allocated; afterwards
// SSL_MODE_RELEASE_BUFFERS frees them as they empty). Call when the SSL object is the
// caller's and every byte is out.
void release_idle_memory(Engine& e);
// Client checks: SNI and the host name (or IP address) the certificate must carry.
void set_peer_name(Engine& e, const std::string& host);

}  // namespace weft::tls::detail
