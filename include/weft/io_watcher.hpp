// IoWatcher: readiness of one file descriptor, for the layers above core (net, db).
// IoWatcherSet: readiness of many descriptors through one handle and one callback.
//
// The fd stays owned by the caller; the watcher only registers it with the loop's poll
// backend. Callbacks run in the poll phase with the ready events. Spurious wake-ups are
// possible (an fd number reused within one poll batch), so handlers must treat EAGAIN
// as "not ready after all". Nothing above core includes a Linux poll header: this is
// the whole interface.
#pragma once

#include <weft/error.hpp>
#include <weft/function.hpp>
#include <weft/handle.hpp>

namespace weft {

namespace io_event {
inline constexpr unsigned readable = 1u << 0;
inline constexpr unsigned writable = 1u << 1;
inline constexpr unsigned hangup = 1u << 2;  // peer closed (read side or both)
inline constexpr unsigned error = 1u << 3;   // an error is pending on the fd
inline constexpr unsigned edge = 1u << 4;    // request edge-triggered notification
}  // namespace io_event

class IoWatcher final : public Handle {
 public:
  IoWatcher(Loop& loop, int fd, HandleKind kind = HandleKind::io);
  ~IoWatcher() override;

  // Starts or changes the interest set (io_event::readable | writable [| edge]).
  std::error_code start(unsigned events, Function<void(unsigned events)> cb);
  // Changes the interest set, keeping the callback. 0 stops watching.
  std::error_code set_events(unsigned events);
  void stop() noexcept;
  int fd() const noexcept { return fd_; }
  unsigned events() const noexcept { return events_; }

 private:
  friend class detail::LoopCore;
  void stop_for_close() noexcept override { stop(); }

  Function<void(unsigned)> cb_;
  int fd_;
  unsigned events_ = 0;
  bool registered_ = false;
};

// Many descriptors, one handle and one callback that is told which descriptor is ready:
// for code that keeps many mostly idle sockets (an HTTP server's parked connections).
// Each descriptor then costs its slot in the loop's table instead of a watcher of its own
// (an IoWatcher with its callback is ~170 bytes). The owner maps the descriptor back to
// its object. The set is active (and, if referenced, keeps the loop alive) while it
// watches at least one descriptor; close() or destruction stops watching all of them.
// As with IoWatcher, the descriptors stay the caller's: remove one before closing it.
class IoWatcherSet final : public Handle {
 public:
  IoWatcherSet(Loop& loop, Function<void(int fd, unsigned events)> cb);
  ~IoWatcherSet() override;

  // Watches fd for `events` (io_event bits). An fd that something else on this loop
  // watches already: errc::file_exists.
  std::error_code add(int fd, unsigned events);
  // Stops watching fd; nothing if this set does not watch it.
  void remove(int fd) noexcept;
  std::size_t size() const noexcept { return size_; }

 private:
  friend class detail::LoopCore;
  void stop_for_close() noexcept override;

  Function<void(int, unsigned)> cb_;
  std::size_t size_ = 0;
};

}  // namespace weft
