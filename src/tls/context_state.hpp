// The state behind tls::Context (internal to the tls layer).
#pragma once

#include <weft/tls/context.hpp>

#include <openssl/ssl.h>

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace weft::tls::detail {

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
  std::vector<Entry> entries;  // a client context has exactly one
  std::string alpn_wire;       // length-prefixed protocol names
  bool server = false;
  Duration handshake_timeout{};
  std::size_t max_handshakes = 0;  // 0: no limit
  bool handshake_on_pool = false;

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

  std::shared_ptr<const Built> current() const {
    std::lock_guard lock(mu);
    return built;
  }
};

// The reason of the last OpenSSL error on this thread's queue (which it empties), or
// `fallback`.
std::string take_openssl_reason(std::string_view fallback);

}  // namespace weft::tls::detail
