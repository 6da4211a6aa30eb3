// tls::Context: the configuration TLS streams are made from (OpenSSL 3 underneath).
//
//   auto server = tls::Context::server({.certificates = {{.cert_file = "c.pem", .key_file =
//   "k.pem"}}}); auto client = tls::Context::client();           // system CA store, hostname
//   checked
//
// A Context is a cheap, copyable reference to shared state; copies see the same
// configuration and reloads. Any thread may create streams from it (the HTTP server's
// loops share one). An empty (default-constructed) Context means "no TLS".
//
// Server side: TLS 1.2 and 1.3 only, Mozilla's "intermediate" cipher list by default,
// ALPN (http/1.1 by default; the list leaves room for h2), several certificates chosen
// by SNI (each certificate serves the DNS names of its subjectAltName, else its CN;
// "*.example.com" matches one label; a client sending no name or an unknown one gets the
// first certificate), session tickets and a session cache for resumption,
// renegotiation refused. reload() swaps the certificates without a restart: new
// handshakes use the new ones, open connections keep theirs.
//
// Client side: the system CA store (or a pinned CA file), the peer's certificate checked
// against the host name (SNI + SSL_set1_host; an IP literal is checked as an address),
// failures reported as weft.tls.verify errors carrying OpenSSL's verify string.
//
// Errors in configuration (unreadable file, key not matching the certificate, an unknown
// cipher) throw std::runtime_error naming the file and OpenSSL's reason.
#pragma once

#include <weft/clock.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace weft::tls {

// A certificate chain (leaf first) and its private key, from PEM files or PEM text.
struct Certificate {
  std::string cert_file;  // PEM: the leaf, then intermediates
  std::string key_file;   // PEM private key (RSA, ECDSA or Ed25519)
  std::string cert_pem;   // instead of cert_file
  std::string key_pem;    // instead of key_file
};

// Mozilla's "intermediate" TLS 1.2 list (TLS 1.3 suites are OpenSSL's defaults).
inline constexpr const char* intermediate_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

struct ServerConfig {
  std::vector<Certificate> certificates;         // the first is the default (no or unknown SNI)
  std::vector<std::string> alpn = {"http/1.1"};  // in preference order
  std::string ciphers = intermediate_ciphers;    // TLS 1.2 (OpenSSL cipher list syntax)
  std::string groups = "X25519:prime256v1:secp384r1";
  // The server's cipher order wins (every listed cipher is AEAD with forward secrecy, so
  // this only makes the choice predictable; scanners such as testssl.sh expect it).
  bool prefer_server_ciphers = true;
  bool session_tickets = true;                  // stateless resumption (TLS 1.2 and 1.3)
  std::size_t session_cache_size = 20480;       // stateful resumption cache entries (0: none)
  std::chrono::seconds session_lifetime{3600};  // tickets and cached sessions
  // A new ticket encryption key after this; the previous one still decrypts (a ticket
  // older than two periods makes a full handshake). Kept across reload().
  std::chrono::seconds ticket_key_rotation{3600 * 12};
  Duration handshake_timeout = std::chrono::seconds(10);  // accept → handshake done
  std::size_t max_handshakes = 1024;  // in progress per Context; past it: refused
  bool handshake_on_pool = true;  // steps that may sign (answering a ClientHello) on the cpu pool
  // With handshake_on_pool: such a step still runs inline while this loop has no
  // established server TLS connection, which it alone could delay (then the pool's two
  // thread hand-offs would only add CPU); once one is established, steps go to the pool.
  // false: every such step goes to the pool. docs/ARCHITECTURE.md "TLS".
  bool handshake_inline_when_idle = true;
};

struct ClientConfig {
  std::string ca_file;  // PEM bundle to trust instead of the system store
  bool verify = true;   // false: no verification at all (tests only)
  std::vector<std::string> alpn = {"http/1.1"};
  std::string ciphers = intermediate_ciphers;
  Duration handshake_timeout = std::chrono::seconds(10);
  bool handshake_on_pool = false;  // a client's handshake costs a verify, not a signature
};

namespace detail {
struct ContextState;
}  // namespace detail

class Context {
 public:
  Context() = default;                         // empty: no TLS
  static Context server(ServerConfig config);  // throws std::runtime_error
  static Context client(const ClientConfig& config = {});

  // Server contexts: loads `config` (or, without an argument, re-reads the files of the
  // current configuration) and makes it the one new handshakes use. Throws
  // std::runtime_error and keeps the old configuration if anything fails to load.
  // Callable from any thread.
  void reload(ServerConfig config);
  void reload();

  explicit operator bool() const noexcept { return state_ != nullptr; }
  bool is_server() const noexcept;
  // Handshakes in progress on every stream of this Context (any thread).
  std::size_t handshakes_in_progress() const noexcept;
  // Configuration generation: 1 after creation, +1 per successful reload.
  std::uint64_t generation() const noexcept;
  // Session ticket keys made so far (1 at the first ticket, +1 per rotation).
  std::uint64_t ticket_key_rotations() const noexcept;

  const std::shared_ptr<detail::ContextState>& state() const noexcept { return state_; }

 private:
  explicit Context(std::shared_ptr<detail::ContextState> s) : state_(std::move(s)) {}
  std::shared_ptr<detail::ContextState> state_;
};

}  // namespace weft::tls
