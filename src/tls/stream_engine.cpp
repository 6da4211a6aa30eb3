// The Engine: SSL object creation, one handshake step, errors (its BIO: bio.cpp).
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
  e.bio = e.ssl ? new_engine_bio(e) : nullptr;
  if (!e.bio) {
    SSL_free(e.ssl);
    e.ssl = nullptr;
    throw std::bad_alloc();
  }
  SSL_set_bio(e.ssl, e.bio, e.bio);  // one reference, for both directions
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
  if (r.err == SSL_ERROR_SYSCALL && r.ossl_error == 0)
    return make_error_code(errc::handshake_failed);
  return from_ossl(r.ossl_error);
}

std::error_code ssl_error(SSL* ssl, int ret) {
  const int err = SSL_get_error(ssl, ret);
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (err == SSL_ERROR_SYSCALL && e == 0) return make_error_code(errc::handshake_failed);
  return from_ossl(e);
}

void set_peer_name(Engine& e, const std::string& host) {
  std::string bare = host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']')
    bare = bare.substr(1, bare.size() - 2);
  unsigned char addr[16];
  const bool is_ip =
      inet_pton(AF_INET, bare.c_str(), addr) == 1 || inet_pton(AF_INET6, bare.c_str(), addr) == 1;
  if (is_ip) {  // no SNI for addresses (RFC 6066 §3); the certificate must list the IP
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(e.ssl), bare.c_str());
    return;
  }
  SSL_ctrl(e.ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,  // the macro casts
           const_cast<char*>(bare.c_str()));
  SSL_set1_host(e.ssl, bare.c_str());
}

}  // namespace weft::tls::detail
