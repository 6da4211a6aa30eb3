// The poll backend: the only place that knows about epoll. Five operations — add,
// modify, remove, wait, and wake (the inbox's eventfd, registered like any fd) — so an
// io_uring backend can replace it without touching anything above.
#pragma once

#include <system_error>

namespace weft::detail {

struct ReadyEvent {
  int fd;
  unsigned events;  // weft::io_event bits
};

class PollBackend {
 public:
  PollBackend();
  ~PollBackend();
  PollBackend(const PollBackend&) = delete;
  PollBackend& operator=(const PollBackend&) = delete;

  std::error_code add(int fd, unsigned events) noexcept;
  std::error_code modify(int fd, unsigned events) noexcept;
  void remove(int fd) noexcept;
  // Waits up to timeout_ms (-1: no limit) and fills `out`; returns the number of events.
  int wait(int timeout_ms, ReadyEvent* out, int capacity) noexcept;

 private:
  int epfd_;
};

}  // namespace weft::detail
