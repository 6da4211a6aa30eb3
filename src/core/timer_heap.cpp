#include "core/timer_heap.hpp"

namespace weft::detail {
namespace {
constexpr std::size_t kArity = 4;
}

TimerHeap::Entry TimerHeap::entry_for(Timer* t) noexcept {
  return {t->due_.time_since_epoch().count(), t->seq_, t};
}

void TimerHeap::place(std::size_t i, const Entry& e) noexcept {
  entries_[i] = e;
  e.timer->heap_index_ = static_cast<std::uint32_t>(i);
}

void TimerHeap::push(Timer* t) {
  entries_.emplace_back();
  sift_up(entries_.size() - 1, entry_for(t));
}

void TimerHeap::remove(Timer* t) noexcept {
  std::size_t i = t->heap_index_;
  Entry last = entries_.back();
  entries_.pop_back();
  if (i == entries_.size()) return;  // it was the last entry
  if (i > 0 && last.before(entries_[(i - 1) / kArity])) {
    sift_up(i, last);
  } else {
    sift_down(i, last);
  }
}

void TimerHeap::update(Timer* t) noexcept {
  std::size_t i = t->heap_index_;
  Entry e = entry_for(t);
  if (i > 0 && e.before(entries_[(i - 1) / kArity])) {
    sift_up(i, e);
  } else {
    sift_down(i, e);
  }
}

void TimerHeap::sift_up(std::size_t i, Entry e) noexcept {
  while (i > 0) {
    std::size_t parent = (i - 1) / kArity;
    if (!e.before(entries_[parent])) break;
    place(i, entries_[parent]);
    i = parent;
  }
  place(i, e);
}

void TimerHeap::sift_down(std::size_t i, Entry e) noexcept {
  const std::size_t n = entries_.size();
  for (;;) {
    std::size_t first = i * kArity + 1;
    if (first >= n) break;
    std::size_t best = first;
    std::size_t end = first + kArity < n ? first + kArity : n;
    for (std::size_t c = first + 1; c < end; ++c) {
      if (entries_[c].before(entries_[best])) best = c;
    }
    if (!entries_[best].before(e)) break;
    place(i, entries_[best]);
    i = best;
  }
  place(i, e);
}

}  // namespace weft::detail
