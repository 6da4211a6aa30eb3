#include "net/socket_ops.hpp"

#include <weft/net/socket.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace weft::net {

void Socket::reset() noexcept {
  if (fd_ >= 0) detail::close_fd(std::exchange(fd_, -1));
}

namespace detail {

int open_stream_socket(int family, std::error_code& ec) noexcept {
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ec = fd < 0 ? last_error() : std::error_code();
  return fd;
}

std::error_code set_bool_option(int fd, int level, int name, bool on) noexcept {
  int value = on ? 1 : 0;
  if (::setsockopt(fd, level, name, &value, sizeof value) == 0) return {};
  return last_error();
}

std::error_code take_socket_error(int fd) noexcept {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return last_error();
  return err ? std::error_code(err, std::system_category()) : std::error_code();
}

SocketAddress local_address(int fd) noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (fd < 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

SocketAddress peer_address(int fd) noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (fd < 0 || ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

void close_fd(int fd) noexcept { ::close(fd); }

}  // namespace detail
}  // namespace weft::net
