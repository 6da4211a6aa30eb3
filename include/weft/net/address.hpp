// SocketAddress: an IPv4, IPv6 or Unix-domain socket address, by value.
//
// Parsing never resolves names: "127.0.0.1", "::1", "[::1]" and "fe80::1%eth0" are
// accepted, "localhost" is not (name lookup belongs on the pool, see net/resolve later).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::net {

class SocketAddress {
 public:
  // An empty address (family AF_UNSPEC); is_valid() is false.
  SocketAddress() noexcept;

  // Parses a numeric IPv4 or IPv6 address (brackets optional for IPv6). nullopt if the
  // text is not a numeric address.
  static std::optional<SocketAddress> parse(std::string_view ip, std::uint16_t port);
  // Parses "host:port", "[v6]:port" or "unix:/path".
  static std::optional<SocketAddress> parse(std::string_view host_port);
  static SocketAddress ipv4_loopback(std::uint16_t port) noexcept;
  static SocketAddress ipv6_loopback(std::uint16_t port) noexcept;
  static SocketAddress ipv4_any(std::uint16_t port) noexcept;
  static SocketAddress ipv6_any(std::uint16_t port) noexcept;
  // A filesystem Unix socket path, or an abstract one when it starts with '@' (Linux).
  // nullopt if the path does not fit sockaddr_un (107 bytes).
  static std::optional<SocketAddress> unix_path(std::string_view path);
  // Copies a kernel-filled address (accept, getsockname); len is the returned length.
  static SocketAddress from_sockaddr(const sockaddr* sa, socklen_t len) noexcept;

  int family() const noexcept { return storage_.ss_family; }
  bool is_valid() const noexcept { return family() != AF_UNSPEC; }
  bool is_ipv4() const noexcept { return family() == AF_INET; }
  bool is_ipv6() const noexcept { return family() == AF_INET6; }
  bool is_unix() const noexcept { return family() == AF_UNIX; }

  // Port in host order; 0 for Unix addresses.
  std::uint16_t port() const noexcept;
  void set_port(std::uint16_t port) noexcept;
  // The numeric IP ("127.0.0.1", "::1"), or the Unix path ("@name" when abstract).
  std::string ip() const;
  // "127.0.0.1:8080", "[::1]:8080", "unix:/run/app.sock".
  std::string to_string() const;

  const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return len_; }

  friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

 private:
  sockaddr_storage storage_;
  socklen_t len_ = 0;
};

}  // namespace weft::net
