// TimerHeap: a 4-ary min-heap of active timers keyed by (deadline, start sequence).
// Each timer stores its index, so removal and re-keying are O(log n) with no search.
// Entries carry the key inline so sifting touches only the heap's own array.
#pragma once

#include <weft/timer.hpp>

#include <cstdint>
#include <vector>

namespace weft::detail {

class TimerHeap {
 public:
  bool empty() const noexcept { return entries_.empty(); }
  std::size_t size() const noexcept { return entries_.size(); }
  Timer* top() const noexcept { return entries_.front().timer; }
  TimePoint top_due() const noexcept { return entries_.front().timer->due_; }

  void push(Timer* t);
  void remove(Timer* t) noexcept;
  // Re-keys an active timer after its deadline changed.
  void update(Timer* t) noexcept;
  std::uint64_t next_seq() noexcept { return ++seq_; }

 private:
  struct Entry {
    std::int64_t due;
    std::uint64_t seq;
    Timer* timer;
    bool before(const Entry& o) const noexcept {
      return due < o.due || (due == o.due && seq < o.seq);
    }
  };
  static Entry entry_for(Timer* t) noexcept;
  void place(std::size_t i, const Entry& e) noexcept;
  void sift_up(std::size_t i, Entry e) noexcept;
  void sift_down(std::size_t i, Entry e) noexcept;

  std::vector<Entry> entries_;
  std::uint64_t seq_ = 0;
};

}  // namespace weft::detail
