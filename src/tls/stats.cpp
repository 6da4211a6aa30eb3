// tls::stats() and the kTLS probe (include/weft/tls/stats.hpp).
#include <weft/tls/stats.hpp>

#include "tls/context_state.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#ifndef TCP_ULP
#define TCP_ULP 31  // linux/tcp.h; older libc headers lack it
#endif

namespace weft::tls {
namespace {

constexpr const char* kUlpFile = "/proc/sys/net/ipv4/tcp_available_ulp";

bool lists_tls(std::string_view ulps) {
  std::istringstream words{std::string(ulps)};
  std::string w;
  while (words >> w) {
    if (w == "tls") return true;
  }
  return false;
}

std::string read_ulps() {
  std::ifstream in(kUlpFile);
  std::string text;
  std::getline(in, text);
  return text;
}

// A connected loopback pair (listener on an ephemeral port), then TCP_ULP "tls" on the
// client side: the kernel only attaches the ULP to an established socket. Returns the
// errno (0: accepted), or -1 when the pair could not be made.
int try_tls_ulp() {
  int result = -1;
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int cfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (lfd >= 0 && cfd >= 0 && ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::listen(lfd, 1) == 0 && ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) == 0 &&
      ::connect(cfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    static const char kTls[] = "tls";
    result = ::setsockopt(cfd, IPPROTO_TCP, TCP_ULP, kTls, sizeof kTls - 1) == 0 ? 0 : errno;
  }
  if (cfd >= 0) ::close(cfd);  // (the pending connection goes with the listener)
  if (lfd >= 0) ::close(lfd);
  return result;
}

}  // namespace

KtlsStatus classify_ktls(std::string_view available_ulp, int setsockopt_errno) {
  KtlsStatus s;
  s.kernel = setsockopt_errno == 0;
  s.in_use = false;
  if (s.kernel) {
    s.reason = "kernel offers the tls ULP, but weft runs OpenSSL over memory BIOs (no kTLS path)";
  } else if (!lists_tls(available_ulp) && (setsockopt_errno == ENOENT || setsockopt_errno < 0)) {
    s.reason = "kernel offers no tls ULP (tcp_available_ulp: " +
               (available_ulp.empty() ? std::string("unreadable") : std::string(available_ulp)) +
               ")";
  } else if (setsockopt_errno < 0) {
    s.reason = "could not probe the tls ULP (no loopback connection)";
  } else {
    s.reason =
        std::string("setsockopt(TCP_ULP, \"tls\") failed: ") + std::strerror(setsockopt_errno);
  }
  return s;
}

const KtlsStatus& ktls_status() {
  static const KtlsStatus status = classify_ktls(read_ulps(), try_tls_ulp());
  return status;
}

Stats stats(const Context& ctx) noexcept {
  Stats s;
  const auto& st = ctx.state();
  if (!st) return s;
  constexpr auto r = std::memory_order_relaxed;
  s.handshakes_in_progress = st->handshakes.load(r);
  s.handshakes_done = st->handshakes_done.load(r);
  s.resumed = st->resumed.load(r);
  s.handshakes_failed = st->handshakes_failed.load(r);
  s.handshakes_refused = st->handshakes_refused.load(r);
  s.pool_steps = st->pool_steps.load(r);
  s.inline_steps = st->inline_steps.load(r);
  return s;
}

}  // namespace weft::tls
