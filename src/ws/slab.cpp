// SlotPool (ws/slab.hpp): fixed-size slots in blocks, whole empty blocks given back.
#include "ws/slab.hpp"

#include <cassert>
#include <cstdint>

namespace weft::ws::detail {

// A block's header, followed by per_block_ slots of slot_size_ bytes.
struct SlotPool::Block {
  Block* prev = nullptr;  // in the list of blocks with room
  Block* next = nullptr;
  Slot* free = nullptr;
  std::size_t live = 0;
  unsigned char* slots() noexcept { return reinterpret_cast<unsigned char*>(this + 1); }
};

SlotPool::~SlotPool() {
  assert(live_ == 0);  // the allocators hold the pool: it goes after its last slot
  while (Block* b = with_room_) {
    unlink(b);
    b->~Block();
    ::operator delete(b);
  }
}

void* SlotPool::allocate(std::size_t size, std::size_t align) {
  if (slot_size_ == 0 && align <= alignof(Block*)) {
    slot_size_ = (size + kHeader + alignof(Block*) - 1) / alignof(Block*) * alignof(Block*);
  }
  if (!fits(size, align)) return ::operator new(size, std::align_val_t(align));
  if (!with_room_) link(new_block());
  Block* b = with_room_;
  Slot* s = b->free;
  b->free = s->next_free;
  if (++b->live == per_block_) unlink(b);  // full: no longer offered
  ++live_;
  return reinterpret_cast<unsigned char*>(s) + kHeader;
}

void SlotPool::deallocate(void* p, std::size_t size, std::size_t align) noexcept {
  if (!fits(size, align)) {
    ::operator delete(p, std::align_val_t(align));
    return;
  }
  auto* s = reinterpret_cast<Slot*>(static_cast<unsigned char*>(p) - kHeader);
  Block* b = s->owner;
  s->next_free = b->free;
  b->free = s;
  --live_;
  if (b->live-- == per_block_) link(b);  // was full: has room again
  if (b->live == 0) {                    // empty: the whole block goes back to malloc
    unlink(b);
    b->~Block();
    ::operator delete(b);
  }
}

SlotPool::Block* SlotPool::new_block() {
  void* raw = ::operator new(sizeof(Block) + per_block_ * slot_size_);
  auto* b = ::new (raw) Block();
  for (std::size_t i = per_block_; i-- > 0;) {
    auto* s = reinterpret_cast<Slot*>(b->slots() + i * slot_size_);
    s->owner = b;
    s->next_free = b->free;
    b->free = s;
  }
  return b;
}

void SlotPool::link(Block* b) noexcept {
  b->prev = nullptr;
  b->next = with_room_;
  if (with_room_) with_room_->prev = b;
  with_room_ = b;
}

void SlotPool::unlink(Block* b) noexcept {
  (b->prev ? b->prev->next : with_room_) = b->next;
  if (b->next) b->next->prev = b->prev;
  b->prev = b->next = nullptr;
}

}  // namespace weft::ws::detail
