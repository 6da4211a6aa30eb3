// SlotPool and SlabAllocator: a loop's WebSocket objects packed into blocks of equal slots.
//
// Why: a WebSocket is made while its HTTP connection exists and outlives it (the server
// frees the connection object when it parks the idle socket, http/upgrade.hpp). Allocated
// by malloc, each WebSocket would sit between freed connection objects, every page would
// keep a live one, and none of the freed memory could go back to the kernel. In blocks of
// their own, the WebSockets occupy few pages and the connections' pages come back.
//
// One pool per hub (per loop); used from that loop's thread only. allocate_shared with a
// SlabAllocator puts the object and its shared_ptr control block in one slot; the
// allocator holds the pool, so the pool lives until its last slot is given back.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

namespace weft::ws::detail {

class SlotPool {
 public:
  explicit SlotPool(std::size_t slots_per_block = 64) noexcept : per_block_(slots_per_block) {}
  ~SlotPool();
  SlotPool(const SlotPool&) = delete;
  SlotPool& operator=(const SlotPool&) = delete;

  // The first allocation fixes the slot size; larger ones (or over-aligned) use operator new.
  void* allocate(std::size_t size, std::size_t align);
  void deallocate(void* p, std::size_t size, std::size_t align) noexcept;
  std::size_t live() const noexcept { return live_; }

 private:
  struct Block;
  struct Slot {
    Block* owner;
    Slot* next_free;  // while free (the object's bytes start here when in use)
  };
  static constexpr std::size_t kHeader = sizeof(Block*);

  bool fits(std::size_t size, std::size_t align) const noexcept {
    return align <= alignof(Block*) && size + kHeader <= slot_size_;
  }
  Block* new_block();
  void link(Block* b) noexcept;
  void unlink(Block* b) noexcept;

  std::size_t per_block_;
  std::size_t slot_size_ = 0;  // bytes per slot, header included (0: not fixed yet)
  std::size_t live_ = 0;
  Block* with_room_ = nullptr;  // blocks with at least one free slot
};

template <class T>
struct SlabAllocator {
  using value_type = T;
  explicit SlabAllocator(std::shared_ptr<SlotPool> p) noexcept : pool(std::move(p)) {}
  template <class U>
  SlabAllocator(const SlabAllocator<U>& other) noexcept : pool(other.pool) {}  // NOLINT

  T* allocate(std::size_t n) { return static_cast<T*>(pool->allocate(n * sizeof(T), alignof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { pool->deallocate(p, n * sizeof(T), alignof(T)); }
  template <class U>
  bool operator==(const SlabAllocator<U>& other) const noexcept {
    return pool == other.pool;
  }

  std::shared_ptr<SlotPool> pool;
};

}  // namespace weft::ws::detail
