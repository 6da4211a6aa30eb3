// tls::Context: building SSL_CTXs from a ServerConfig / ClientConfig, SNI and ALPN
// selection, reload.
#include "tls/context_state.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <stdexcept>

namespace weft::tls {
namespace detail {

// Every entry, oldest first ("No such file or directory (BIO) ...; system lib (SSL)"):
// the last alone is often only "system lib".
std::string take_openssl_reason(std::string_view fallback) {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    const char* lib = ERR_lib_error_string(e);
    if (!out.empty()) out += "; ";
    out += reason ? reason : "error " + std::to_string(ERR_GET_REASON(e));
    if (lib) out += std::string(" (") + lib + ")";
  }
  return out.empty() ? std::string(fallback) : out;
}

Built::~Built() {
  for (Entry& e : entries) SSL_CTX_free(e.ctx);
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool name_matches(std::string_view pattern, std::string_view name) {
  if (pattern == name) return true;
  if (pattern.size() < 3 || pattern.substr(0, 2) != "*.") return false;
  const std::size_t dot = name.find('.');  // the wildcard covers exactly one label
  return dot != std::string_view::npos && dot > 0 && name.substr(dot + 1) == pattern.substr(2);
}

}  // namespace

SSL_CTX* Built::select(std::string_view name) const noexcept {
  const std::string n = lower(name);
  for (const Entry& e : entries) {
    for (const std::string& p : e.names) {
      if (name_matches(p, n)) return e.ctx;
    }
  }
  return default_ctx();
}

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("weft::tls: " + what + ": " + take_openssl_reason("unknown error"));
}

std::string alpn_wire(const std::vector<std::string>& protos) {
  std::string wire;
  for (const std::string& p : protos) {
    if (p.empty() || p.size() > 255)
      throw std::invalid_argument("weft::tls: bad ALPN name '" + p + "'");
    wire.push_back(static_cast<char>(p.size()));
    wire += p;
  }
  return wire;
}

std::vector<std::string> names_of(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
    if (g->type != GEN_DNS) continue;
    const ASN1_IA5STRING* s = g->d.dNSName;
    names.push_back(lower(std::string_view(reinterpret_cast<const char*>(s->data),
                                           static_cast<std::size_t>(s->length))));
  }
  GENERAL_NAMES_free(sans);
  if (names.empty()) {
    char cn[256];
    const int n =
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    if (n > 0) names.push_back(lower(std::string_view(cn, static_cast<std::size_t>(n))));
  }
  return names;
}

void load_pem_chain(SSL_CTX* ctx, const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* leaf = PEM_read_bio_X509_AUX(bio, nullptr, nullptr, nullptr);
  const bool ok = leaf && SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  while (ok) {
    X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (!extra) break;
    SSL_CTX_add0_chain_cert(ctx, extra);  // takes ownership
  }
  ERR_clear_error();  // the end of the PEM text reads as an error
  BIO_free(bio);
  if (!ok) fail("cannot use the certificate PEM text");
}

void load_pem_key(SSL_CTX* ctx, const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  const bool ok = key && SSL_CTX_use_PrivateKey(ctx, key) == 1;
  EVP_PKEY_free(key);
  if (!ok) fail("cannot use the private key PEM text");
}

void load_certificate(SSL_CTX* ctx, const Certificate& c) {
  if (!c.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, c.cert_file.c_str()) != 1) {
      fail("cannot load certificate chain '" + c.cert_file + "'");
    }
  } else if (!c.cert_pem.empty()) {
    load_pem_chain(ctx, c.cert_pem);
  } else {
    throw std::invalid_argument("weft::tls: a certificate needs cert_file or cert_pem");
  }
  if (!c.key_file.empty()) {
    if (SSL_CTX_use_PrivateKey_file(ctx, c.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      fail("cannot load private key '" + c.key_file + "'");
    }
  } else if (!c.key_pem.empty()) {
    load_pem_key(ctx, c.key_pem);
  } else {
    throw std::invalid_argument("weft::tls: a certificate needs key_file or key_pem");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    fail("the private key does not match the certificate '" + c.cert_file + "'");
  }
}

// Protocol versions and ciphers, common to both sides.
void set_protocols(SSL_CTX* ctx, const std::string& ciphers) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) fail("bad cipher list '" + ciphers + "'");
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Memory: idle connections give their record buffers back.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

int on_servername(SSL* ssl, int* /*alert*/, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;
  SSL_CTX* chosen = static_cast<const Built*>(arg)->select(name);
  if (chosen != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, chosen);
  return SSL_TLSEXT_ERR_OK;
}

int on_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned int inlen, void* arg) {
  const std::string& wire = static_cast<const Built*>(arg)->alpn_wire;
  unsigned char* selected = nullptr;
  const int r =
      SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned>(wire.size()), in, inlen);
  if (r != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_NOACK;  // go on without ALPN
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

int ticket_keys_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int on_ticket_key(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                  EVP_MAC_CTX* mac, int enc) {
  auto* keys =
      static_cast<TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticket_keys_index()));
  return keys ? keys->handle(name, iv, cipher, mac, enc) : -1;
}

SSL_CTX* new_server_ctx(const ServerConfig& cfg, const Built& built) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) fail("SSL_CTX_new");
  set_protocols(ctx, cfg.ciphers);
  if (SSL_CTX_set1_groups_list(ctx, cfg.groups.c_str()) != 1)
    fail("bad groups '" + cfg.groups + "'");
  SSL_CTX_set_dh_auto(ctx, 1);
  if (cfg.prefer_server_ciphers) SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  static const unsigned char sid[] = "weft";
  SSL_CTX_set_session_id_context(ctx, sid, 4);
  SSL_CTX_set_timeout(ctx, static_cast<long>(cfg.session_lifetime.count()));
  if (cfg.session_cache_size == 0) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, static_cast<long>(cfg.session_cache_size));
  }
  if (!cfg.session_tickets) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  } else {
    SSL_CTX_set_ex_data(ctx, ticket_keys_index(), built.ticket_keys.get());
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket_key);
  }
  SSL_CTX_set_num_tickets(ctx, 1);
  // (the macro form casts C-style)
  SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                        reinterpret_cast<void (*)()>(on_servername));
  SSL_CTX_set_tlsext_servername_arg(ctx, const_cast<Built*>(&built));
  if (!built.alpn_wire.empty())
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, const_cast<Built*>(&built));
  return ctx;
}

std::shared_ptr<const Built> build_server(const ServerConfig& cfg,
                                          std::shared_ptr<TicketKeys> keys) {
  if (cfg.certificates.empty())
    throw std::invalid_argument("weft::tls: a server needs a certificate");
  auto built = std::make_shared<Built>();
  built->ticket_keys = std::move(keys);
  built->server = true;
  built->alpn_wire = alpn_wire(cfg.alpn);
  built->handshake_timeout = cfg.handshake_timeout;
  built->max_handshakes = cfg.max_handshakes;
  built->handshake_on_pool = cfg.handshake_on_pool;
  built->handshake_inline_when_idle = cfg.handshake_inline_when_idle;
  for (const Certificate& c : cfg.certificates) {
    built->entries.push_back({new_server_ctx(cfg, *built), {}});
    load_certificate(built->entries.back().ctx, c);
    built->entries.back().names = names_of(SSL_CTX_get0_certificate(built->entries.back().ctx));
  }
  return built;
}

std::shared_ptr<const Built> build_client(const ClientConfig& cfg) {
  auto built = std::make_shared<Built>();
  built->alpn_wire = alpn_wire(cfg.alpn);
  built->handshake_timeout = cfg.handshake_timeout;
  built->handshake_on_pool = cfg.handshake_on_pool;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) fail("SSL_CTX_new");
  built->entries.push_back({ctx, {}});
  set_protocols(ctx, cfg.ciphers);
  if (!cfg.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, cfg.ca_file.c_str(), nullptr) != 1) {
      fail("cannot load CA file '" + cfg.ca_file + "'");
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    fail("cannot load the system CA store");
  }
  SSL_CTX_set_verify(ctx, cfg.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  const std::string& w = built->alpn_wire;
  if (!w.empty() && SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(w.data()),
                                            static_cast<unsigned>(w.size())) != 0) {
    fail("cannot set ALPN");
  }
  return built;
}

}  // namespace
}  // namespace detail

Context Context::server(ServerConfig config) {
  auto s = std::make_shared<detail::ContextState>();
  s->server = true;
  s->ticket_keys = std::make_shared<detail::TicketKeys>(config.ticket_key_rotation);
  s->built = detail::build_server(config, s->ticket_keys);
  s->server_config = std::move(config);
  return Context(std::move(s));
}

Context Context::client(const ClientConfig& config) {
  auto s = std::make_shared<detail::ContextState>();
  s->built = detail::build_client(config);
  return Context(std::move(s));
}

void Context::reload(ServerConfig config) {
  if (!state_ || !state_->server)
    throw std::logic_error("weft::tls: reload() needs a server Context");
  auto built = detail::build_server(config, state_->ticket_keys);  // throws: the old one stays
  state_->ticket_keys->set_rotation(config.ticket_key_rotation);
  std::lock_guard lock(state_->mu);
  state_->built = std::move(built);
  state_->server_config = std::move(config);
  state_->generation.fetch_add(1, std::memory_order_relaxed);
}

void Context::reload() {
  if (!state_) throw std::logic_error("weft::tls: reload() on an empty Context");
  ServerConfig copy;
  {
    std::lock_guard lock(state_->mu);
    copy = state_->server_config;
  }
  reload(std::move(copy));
}

std::uint64_t Context::ticket_key_rotations() const noexcept {
  return state_ && state_->ticket_keys ? state_->ticket_keys->rotations() : 0;
}

bool Context::is_server() const noexcept { return state_ && state_->server; }

std::size_t Context::handshakes_in_progress() const noexcept {
  return state_ ? state_->handshakes.load(std::memory_order_relaxed) : 0;
}

std::uint64_t Context::generation() const noexcept {
  return state_ ? state_->generation.load(std::memory_order_relaxed) : 0;
}

}  // namespace weft::tls
