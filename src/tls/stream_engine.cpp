// The Engine: SSL object creation, one handshake step, errors, BIO plumbing.
#include "tls/engine.hpp"

#include <weft/tls/error.hpp>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <climits>
#include <new>

namespace weft::tls::detail {

void make_ssl(Engine& e, SSL_CTX* ctx, bool server) {
  e.ssl = SSL_new(ctx);
  e.rbio = BIO_new(BIO_s_mem());
  e.wbio = BIO_new(BIO_s_mem());
  if (!e.ssl || !e.rbio || !e.wbio) {
    BIO_free(e.rbio);
    BIO_free(e.wbio);
    throw std::bad_alloc();
  }
  BIO_set_mem_eof_return(e.rbio, -1);  // empty: "retry", not end of file
  BIO_set_mem_eof_return(e.wbio, -1);
  SSL_set_bio(e.ssl, e.rbio, e.wbio);
  if (server) {
    SSL_set_accept_state(e.ssl);
  } else {
    SSL_set_connect_state(e.ssl);
  }
}

StepResult run_step(Engine& e) {
  ERR_clear_error();
  StepResult r;
  r.ret = SSL_do_handshake(e.ssl);
  if (r.ret != 1) {
    r.err = SSL_get_error(e.ssl, r.ret);
    r.ossl_error = ERR_peek_last_error();
    r.verify = SSL_get_verify_result(e.ssl);
    ERR_clear_error();
  }
  return r;
}

namespace {

std::error_code from_ossl(unsigned long e) {
  if (e == 0) return make_error_code(errc::handshake_failed);
  const unsigned long packed = ERR_PACK(ERR_GET_LIB(e), 0, ERR_GET_REASON(e));
  return {static_cast<int>(packed), openssl_category()};
}

}  // namespace

std::error_code step_error(const StepResult& r) {
  if (r.verify != X509_V_OK) return {static_cast<int>(r.verify), verify_category()};
  if (r.err == SSL_ERROR_SYSCALL && r.ossl_error == 0) return make_error_code(errc::handshake_failed);
  return from_ossl(r.ossl_error);
}

std::error_code ssl_error(SSL* ssl, int ret) {
  const int err = SSL_get_error(ssl, ret);
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (err == SSL_ERROR_SYSCALL && e == 0) return make_error_code(errc::handshake_failed);
  return from_ossl(e);
}

void feed(Engine& e, const char* data, std::size_t len) {
  while (len > 0) {  // a memory BIO grows: each write takes everything (up to INT_MAX)
    const int chunk = static_cast<int>(std::min<std::size_t>(len, INT_MAX));
    const int n = BIO_write(e.rbio, data, chunk);
    if (n <= 0) throw std::bad_alloc();
    data += n;
    len -= static_cast<std::size_t>(n);
  }
}

std::string take_output(Engine& e) {
  const std::size_t pending = BIO_ctrl_pending(e.wbio);
  std::string out;
  if (pending == 0) return out;
  out.resize(pending);
  const int n = BIO_read(e.wbio, out.data(), static_cast<int>(pending));
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

void set_peer_name(Engine& e, const std::string& host) {
  std::string bare = host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') bare = bare.substr(1, bare.size() - 2);
  unsigned char addr[16];
  const bool is_ip = inet_pton(AF_INET, bare.c_str(), addr) == 1 || inet_pton(AF_INET6, bare.c_str(), addr) == 1;
  if (is_ip) {  // no SNI for addresses (RFC 6066 §3); the certificate must list the IP
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(e.ssl), bare.c_str());
    return;
  }
  SSL_ctrl(e.ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,  // the macro casts
           const_cast<char*>(bare.c_str()));
  SSL_set1_host(e.ssl, bare.c_str());
}

}  // namespace weft::tls::detail
