// Thin wrappers over the socket system calls the net layer uses. Errors come back as
// std::error_code (system category); EINTR is retried where retrying is correct.
#pragma once

#include <weft/net/address.hpp>

#include <system_error>

namespace weft::net::detail {

inline std::error_code last_error() noexcept { return {errno, std::system_category()}; }

// A non-blocking, close-on-exec stream socket of the given family.
int open_stream_socket(int family, std::error_code& ec) noexcept;
std::error_code set_bool_option(int fd, int level, int name, bool on) noexcept;
// The pending error of a socket (SO_ERROR), cleared by the read.
std::error_code take_socket_error(int fd) noexcept;
SocketAddress local_address(int fd) noexcept;
SocketAddress peer_address(int fd) noexcept;
// Closes fd; EINTR is not retried (on Linux the descriptor is gone either way).
void close_fd(int fd) noexcept;

}  // namespace weft::net::detail
