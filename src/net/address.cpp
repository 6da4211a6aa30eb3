#include <weft/net/address.hpp>

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/un.h>

#include <charconv>
#include <cstddef>
#include <cstring>

namespace weft::net {
namespace {

sockaddr_in* as_in(sockaddr_storage& s) noexcept { return reinterpret_cast<sockaddr_in*>(&s); }
const sockaddr_in* as_in(const sockaddr_storage& s) noexcept {
  return reinterpret_cast<const sockaddr_in*>(&s);
}
sockaddr_in6* as_in6(sockaddr_storage& s) noexcept { return reinterpret_cast<sockaddr_in6*>(&s); }
const sockaddr_in6* as_in6(const sockaddr_storage& s) noexcept {
  return reinterpret_cast<const sockaddr_in6*>(&s);
}
const sockaddr_un* as_un(const sockaddr_storage& s) noexcept {
  return reinterpret_cast<const sockaddr_un*>(&s);
}

constexpr socklen_t kUnixPathOffset = offsetof(sockaddr_un, sun_path);

}  // namespace

SocketAddress::SocketAddress() noexcept : storage_{} { storage_.ss_family = AF_UNSPEC; }

std::optional<SocketAddress> SocketAddress::parse(std::string_view ip, std::uint16_t port) {
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  if (ip.empty() || ip.size() >= 64) return std::nullopt;
  char text[64];
  std::memcpy(text, ip.data(), ip.size());
  text[ip.size()] = '\0';

  SocketAddress a;
  if (::inet_pton(AF_INET, text, &as_in(a.storage_)->sin_addr) == 1) {
    as_in(a.storage_)->sin_family = AF_INET;
    as_in(a.storage_)->sin_port = htons(port);
    a.len_ = sizeof(sockaddr_in);
    return a;
  }
  // IPv6, with an optional zone ("fe80::1%eth0" or "%2").
  char* zone = std::strchr(text, '%');
  if (zone) *zone++ = '\0';
  sockaddr_in6* in6 = as_in6(a.storage_);
  if (::inet_pton(AF_INET6, text, &in6->sin6_addr) != 1) return std::nullopt;
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  if (zone) {
    unsigned index = ::if_nametoindex(zone);
    if (index == 0) {
      auto [p, ec] = std::from_chars(zone, zone + std::strlen(zone), index);
      if (ec != std::errc() || *p != '\0') return std::nullopt;
    }
    in6->sin6_scope_id = index;
  }
  a.len_ = sizeof(sockaddr_in6);
  return a;
}

std::optional<SocketAddress> SocketAddress::parse(std::string_view host_port) {
  if (host_port.starts_with("unix:")) return unix_path(host_port.substr(5));
  const std::size_t colon = host_port.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = host_port.substr(0, colon);
  std::string_view port_text = host_port.substr(colon + 1);
  // A bare IPv6 address has several colons: it must be bracketed to carry a port.
  if (host.find(':') != std::string_view::npos && !host.starts_with('[')) return std::nullopt;
  std::uint16_t port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port_text.empty()) {
    return std::nullopt;
  }
  return parse(host, port);
}

SocketAddress SocketAddress::ipv4_loopback(std::uint16_t port) noexcept {
  SocketAddress a;
  as_in(a.storage_)->sin_family = AF_INET;
  as_in(a.storage_)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  as_in(a.storage_)->sin_port = htons(port);
  a.len_ = sizeof(sockaddr_in);
  return a;
}

SocketAddress SocketAddress::ipv4_any(std::uint16_t port) noexcept {
  SocketAddress a = ipv4_loopback(port);
  as_in(a.storage_)->sin_addr.s_addr = htonl(INADDR_ANY);
  return a;
}

SocketAddress SocketAddress::ipv6_loopback(std::uint16_t port) noexcept {
  SocketAddress a;
  as_in6(a.storage_)->sin6_family = AF_INET6;
  as_in6(a.storage_)->sin6_addr = in6addr_loopback;
  as_in6(a.storage_)->sin6_port = htons(port);
  a.len_ = sizeof(sockaddr_in6);
  return a;
}

SocketAddress SocketAddress::ipv6_any(std::uint16_t port) noexcept {
  SocketAddress a = ipv6_loopback(port);
  as_in6(a.storage_)->sin6_addr = in6addr_any;
  return a;
}

std::optional<SocketAddress> SocketAddress::unix_path(std::string_view path) {
  sockaddr_un un{};
  if (path.empty() || path.size() >= sizeof(un.sun_path)) return std::nullopt;
  SocketAddress a;
  auto* dst = reinterpret_cast<sockaddr_un*>(&a.storage_);
  dst->sun_family = AF_UNIX;
  std::memcpy(dst->sun_path, path.data(), path.size());
  if (path.front() == '@') {
    dst->sun_path[0] = '\0';  // abstract namespace: the length delimits the name
    a.len_ = static_cast<socklen_t>(kUnixPathOffset + path.size());
  } else {
    a.len_ = static_cast<socklen_t>(kUnixPathOffset + path.size() + 1);
  }
  return a;
}

SocketAddress SocketAddress::from_sockaddr(const sockaddr* sa, socklen_t len) noexcept {
  SocketAddress a;
  if (len > sizeof(a.storage_)) len = sizeof(a.storage_);
  std::memcpy(&a.storage_, sa, len);
  a.len_ = len;
  return a;
}

std::uint16_t SocketAddress::port() const noexcept {
  if (is_ipv4()) return ntohs(as_in(storage_)->sin_port);
  if (is_ipv6()) return ntohs(as_in6(storage_)->sin6_port);
  return 0;
}

void SocketAddress::set_port(std::uint16_t port) noexcept {
  if (is_ipv4()) as_in(storage_)->sin_port = htons(port);
  if (is_ipv6()) as_in6(storage_)->sin6_port = htons(port);
}

std::string SocketAddress::ip() const {
  char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = {};
  if (is_ipv4()) {
    ::inet_ntop(AF_INET, &as_in(storage_)->sin_addr, text, sizeof text);
    return text;
  }
  if (is_ipv6()) {
    ::inet_ntop(AF_INET6, &as_in6(storage_)->sin6_addr, text, sizeof text);
    std::string out = text;
    if (unsigned scope = as_in6(storage_)->sin6_scope_id)
      out.append("%").append(std::to_string(scope));
    return out;
  }
  if (is_unix() && len_ > kUnixPathOffset) {
    const char* path = as_un(storage_)->sun_path;
    std::size_t n = len_ - kUnixPathOffset;
    if (path[0] == '\0') return std::string("@").append(path + 1, n - 1);
    return std::string(path, ::strnlen(path, n));
  }
  return {};
}

std::string SocketAddress::to_string() const {
  // Built with append: GCC 12 warns falsely (-Wrestrict) on chains of operator+.
  if (is_ipv4()) return ip().append(":").append(std::to_string(port()));
  if (is_ipv6()) return std::string("[").append(ip()).append("]:").append(std::to_string(port()));
  if (is_unix()) return std::string("unix:").append(ip());
  return "(unspecified)";
}

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
  return a.len_ == b.len_ && std::memcmp(&a.storage_, &b.storage_, a.len_) == 0;
}

}  // namespace weft::net
