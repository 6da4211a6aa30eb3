// ParkedIndex: every parked socket of one kind behind one IoWatcherSet, and the table from
// a woken descriptor back to its entry.
//
// Why: a parked connection is kept for its socket alone; an IoWatcher of its own (~170
// bytes with its callback and handle links) was most of a parked entry. With one set per
// server loop an entry costs its slot in the loop's table and one pointer here.
#pragma once

#include <weft/function.hpp>
#include <weft/io_watcher.hpp>

#include <algorithm>
#include <cstddef>
#include <system_error>
#include <vector>

namespace weft::http {

template <class T>
class ParkedIndex {
 public:
  // on_input(entry): the entry's socket is readable (or hung up); it is still indexed.
  ParkedIndex(Loop& loop, const char* label, Function<void(T*)> on_input)
      : on_input_(std::move(on_input)), set_(loop, [this](int fd, unsigned) { woke(fd); }) {
    set_.set_label(label);  // referenced, as a connection's stream is: parked ones count
  }

  // Watches fd's input for entry. On failure nothing is indexed.
  std::error_code add(int fd, T* entry) {
    const auto i = static_cast<std::size_t>(fd);
    if (i >= by_fd_.size()) by_fd_.resize(std::max(i + 1, by_fd_.size() * 2));
    if (std::error_code ec = set_.add(fd, io_event::readable)) return ec;
    by_fd_[i] = entry;
    return {};
  }

  void remove(int fd) noexcept {
    const auto i = static_cast<std::size_t>(fd);
    if (fd < 0 || i >= by_fd_.size()) return;
    set_.remove(fd);
    by_fd_[i] = nullptr;
  }

  // No more entries (the server finished closing): the set's handle closes, so the loop
  // can close while the server object still exists.
  void close() { set_.close(); }

 private:
  void woke(int fd) {
    if (T* entry = by_fd_[static_cast<std::size_t>(fd)]) on_input_(entry);
  }

  Function<void(T*)> on_input_;
  std::vector<T*> by_fd_;  // indexed by descriptor
  IoWatcherSet set_;
};

}  // namespace weft::http
