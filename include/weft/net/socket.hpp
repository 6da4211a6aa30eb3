// Socket: a move-only owner of one connected, non-blocking socket descriptor.
//
// A Listener hands each accepted connection over as a Socket; the receiver wraps it in
// a Stream (which may live inside its own connection object, so accepting allocates
// nothing in the net layer). Dropping a Socket closes the descriptor.
#pragma once

#include <sys/socket.h>

#include <utility>

namespace weft::net {

class Socket {
 public:
  Socket() noexcept = default;
  // Takes ownership of fd; family is AF_INET, AF_INET6 or AF_UNIX.
  Socket(int fd, int family) noexcept : fd_(fd), family_(family) {}
  Socket(Socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)), family_(o.family_) {}
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
      family_ = o.family_;
    }
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { reset(); }

  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }
  int fd() const noexcept { return fd_; }
  int family() const noexcept { return family_; }
  // Gives up ownership: the caller closes the descriptor.
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset() noexcept;

 private:
  int fd_ = -1;
  int family_ = AF_UNSPEC;
};

}  // namespace weft::net
