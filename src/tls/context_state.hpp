// The state behind tls::Context (internal to the tls layer).
#pragma once

#include <weft/tls/context.hpp>

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace weft::tls::detail {

// Session ticket keys shared by every SSL_CTX of a Context and kept across reloads (so a
// reload does not end resumption). The key that encrypts new tickets is replaced after
// `rotation`; the previous one still decrypts (its tickets get renewed). Any thread: the
// callback runs in handshakes, on the pool or a loop.
class TicketKeys {
 public:
  explicit TicketKeys(std::chrono::seconds rotation) : rotation_(rotation) {}
  void set_rotation(std::chrono::seconds r);
  // The SSL_CTX_set_tlsext_ticket_key_evp_cb callback body.
  int handle(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
             int enc);
  std::uint64_t rotations() const;

 private:
  struct Key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
    std::chrono::steady_clock::time_point created;
  };
  void rotate_if_due();  // under mu_
  mutable std::mutex mu_;
  std::chrono::seconds rotation_;
  Key keys_[2]{};  // [0] encrypts, [1] the previous one (decrypts only)
  std::size_t count_ = 0;
  std::uint64_t rotations_ = 0;
};

// One loaded configuration. Immutable once built, so pool threads running handshake steps
// read it without a lock; a stream holds a reference for its whole life, so the SSL_CTXs
// its SSL object refers to (and the callbacks' argument) outlive it across reloads.
struct Built {
  Built() = default;
  Built(const Built&) = delete;
  Built& operator=(const Built&) = delete;
  ~Built();

  struct Entry {
    SSL_CTX* ctx = nullptr;
    std::vector<std::string> names;  // lower case; "*.example.com" for wildcards
  };
  std::vector<Entry> entries;               // a client context has exactly one
  std::shared_ptr<TicketKeys> ticket_keys;  // server: the Context's (outlives the SSL_CTXs)
  std::string alpn_wire;                    // length-prefixed protocol names
  bool server = false;
  Duration handshake_timeout{};
  std::size_t max_handshakes = 0;  // 0: no limit
  bool handshake_on_pool = false;
  bool handshake_inline_when_idle = false;

  // The certificate for an SNI name (the first entry when none matches).
  SSL_CTX* select(std::string_view name) const noexcept;
  SSL_CTX* default_ctx() const noexcept { return entries.front().ctx; }
};

struct ContextState {
  bool server = false;
  ServerConfig server_config;  // under mu (reload() re-reads its files)
  mutable std::mutex mu;
  std::shared_ptr<const Built> built;  // under mu
  std::atomic<std::size_t> handshakes{0};
  std::atomic<std::uint64_t> generation{1};
  std::shared_ptr<TicketKeys> ticket_keys;  // server only
  // tls::stats() (stats.hpp), counted by the streams; relaxed: figures, not hand-offs.
  std::atomic<std::uint64_t> handshakes_done{0}, resumed{0}, handshakes_failed{0},
      handshakes_refused{0}, pool_steps{0}, inline_steps{0};

  std::shared_ptr<const Built> current() const {
    std::lock_guard lock(mu);
    return built;
  }
};

// The reason of the last OpenSSL error on this thread's queue (which it empties), or
// `fallback`.
std::string take_openssl_reason(std::string_view fallback);

}  // namespace weft::tls::detail
