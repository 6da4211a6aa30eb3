#include "core/poll_backend.hpp"

#include <weft/io_watcher.hpp>

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace weft::detail {
namespace {

std::uint32_t to_epoll(unsigned events) noexcept {
  std::uint32_t e = 0;
  if (events & io_event::readable) e |= EPOLLIN | EPOLLRDHUP;
  if (events & io_event::writable) e |= EPOLLOUT;
  if (events & io_event::edge) e |= EPOLLET;
  return e;
}

unsigned from_epoll(std::uint32_t e) noexcept {
  unsigned events = 0;
  if (e & (EPOLLIN | EPOLLPRI)) events |= io_event::readable;
  if (e & EPOLLOUT) events |= io_event::writable;
  if (e & (EPOLLHUP | EPOLLRDHUP)) events |= io_event::hangup;
  if (e & EPOLLERR) events |= io_event::error;
  return events;
}

std::error_code ctl(int epfd, int op, int fd, unsigned events) noexcept {
  epoll_event ev{};
  ev.events = to_epoll(events);
  ev.data.fd = fd;
  if (::epoll_ctl(epfd, op, fd, &ev) == 0) return {};
  return {errno, std::system_category()};
}

}  // namespace

PollBackend::PollBackend() : epfd_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (epfd_ < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
}

PollBackend::~PollBackend() { ::close(epfd_); }

std::error_code PollBackend::add(int fd, unsigned events) noexcept {
  return ctl(epfd_, EPOLL_CTL_ADD, fd, events);
}

std::error_code PollBackend::modify(int fd, unsigned events) noexcept {
  return ctl(epfd_, EPOLL_CTL_MOD, fd, events);
}

void PollBackend::remove(int fd) noexcept {
  epoll_event ev{};
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev);  // ENOENT/EBADF: already gone, nothing to do
}

int PollBackend::wait(int timeout_ms, ReadyEvent* out, int capacity) noexcept {
  constexpr int kMax = 256;
  epoll_event events[kMax];
  int n = ::epoll_wait(epfd_, events, capacity < kMax ? capacity : kMax, timeout_ms);
  if (n < 0) return 0;  // EINTR: the caller loops; other errors cannot happen on a valid epfd
  for (int i = 0; i < n; ++i) out[i] = {events[i].data.fd, from_epoll(events[i].events)};
  return n;
}

}  // namespace weft::detail
