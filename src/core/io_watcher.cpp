#include <weft/io_watcher.hpp>

#include "core/loop_core.hpp"

namespace weft {

IoWatcher::IoWatcher(Loop& loop, int fd, HandleKind kind) : Handle(loop, kind), fd_(fd) {}

IoWatcher::~IoWatcher() {
  if (loop_alive()) stop();
}

std::error_code IoWatcher::start(unsigned events, Function<void(unsigned)> cb) {
  cb_ = std::move(cb);
  return set_events(events);
}

std::error_code IoWatcher::set_events(unsigned events) {
  assert_loop_thread();
  if (is_closing() || is_closed()) return std::make_error_code(std::errc::bad_file_descriptor);
  if (!(events & (io_event::readable | io_event::writable))) {
    stop();
    return {};
  }
  if (events == events_ && registered_) return {};
  if (std::error_code ec = weft::detail::LoopAccess::core(loop()).watch(*this, events)) return ec;
  events_ = events;
  set_active(true);
  return {};
}

void IoWatcher::stop() noexcept {
  assert_loop_thread();
  if (!loop_alive()) return;
  weft::detail::LoopAccess::core(loop()).unwatch(*this);
  events_ = 0;
  set_active(false);
}

// ---- IoWatcherSet ---------------------------------------------------------------------

IoWatcherSet::IoWatcherSet(Loop& loop, Function<void(int, unsigned)> cb)
    : Handle(loop, HandleKind::io), cb_(std::move(cb)) {}

IoWatcherSet::~IoWatcherSet() {
  if (loop_alive()) stop_for_close();
}

std::error_code IoWatcherSet::add(int fd, unsigned events) {
  assert_loop_thread();
  if (is_closing() || is_closed()) return std::make_error_code(std::errc::bad_file_descriptor);
  if (std::error_code ec = weft::detail::LoopAccess::core(loop()).watch_in_set(*this, fd, events)) {
    return ec;
  }
  if (size_++ == 0) set_active(true);
  return {};
}

void IoWatcherSet::remove(int fd) noexcept {
  assert_loop_thread();
  if (!loop_alive() || !weft::detail::LoopAccess::core(loop()).unwatch_in_set(*this, fd)) return;
  if (--size_ == 0) set_active(false);
}

void IoWatcherSet::stop_for_close() noexcept {
  if (size_ == 0 || !loop_alive()) return;
  weft::detail::LoopAccess::core(loop()).unwatch_set(*this);
  size_ = 0;
  set_active(false);
}

}  // namespace weft
