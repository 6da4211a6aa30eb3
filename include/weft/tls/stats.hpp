// TLS figures for /_weft/stats: a server Context's handshake counters and which record
// path is in use (kTLS or OpenSSL in user space).
//
//   tls::Stats s = tls::stats(server_context);   // any thread
//   const tls::KtlsStatus& k = tls::ktls_status();  // probed once per process
//
// kTLS: weft's streams run OpenSSL over memory BIOs (stream.hpp), and OpenSSL only hands
// record keys to the kernel through a socket BIO, so weft never enables kTLS; records are
// encrypted with SSL_write and file ranges are read and encrypted (no sendfile over TLS).
// ktls_status() still reports whether the kernel could do it, so an operator sees why the
// user-space path is in use. docs/ARCHITECTURE.md ("TLS", "kTLS") has the reasoning.
#pragma once

#include <weft/tls/context.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace weft::tls {

struct KtlsStatus {
  bool kernel = false;  // the kernel accepted TCP_ULP "tls" on a loopback connection
  bool in_use = false;  // streams hand their keys to the kernel (weft: never, see above)
  std::string reason;   // why in_use is what it is, in words
};

// Probes the kernel on the first call (reads /proc/sys/net/ipv4/tcp_available_ulp, then
// tries setsockopt(TCP_ULP, "tls") once on a loopback TCP connection, which also lets a
// permitted kernel load the tls module); later calls return the same answer. Thread-safe.
const KtlsStatus& ktls_status();

// The decision ktls_status() makes from what it found: the text of tcp_available_ulp
// (empty: unreadable) and setsockopt's errno (0: accepted; -1: not tried).
KtlsStatus classify_ktls(std::string_view available_ulp, int setsockopt_errno);

// A server Context's counters since it was created (all of its streams, every loop).
struct Stats {
  std::uint64_t handshakes_in_progress = 0;
  std::uint64_t handshakes_done = 0;     // completed, full and resumed
  std::uint64_t resumed = 0;             // of handshakes_done: session resumed
  std::uint64_t handshakes_failed = 0;   // protocol errors, timeouts, refusals, peer gone
  std::uint64_t handshakes_refused = 0;  // of handshakes_failed: max_handshakes reached
  std::uint64_t pool_steps = 0;          // handshake steps run on the cpu pool
  std::uint64_t inline_steps = 0;        // handshake steps run on the loop
};

// Zeros for an empty Context.
Stats stats(const Context& ctx) noexcept;

}  // namespace weft::tls
