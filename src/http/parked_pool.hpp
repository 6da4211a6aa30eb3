// ParkedPool: storage for parked connections, in blocks allocated and freed whole.
//
// Why: parking replaces a freed Connection (~2 KiB with its parts) by a ParkedConnection
// (~250 bytes). Allocated one by one, malloc puts each parked entry into the space its
// connection just left, so every page that held connections keeps a live entry and none
// can be returned to the kernel (malloc_trim returns whole free pages only): RSS stayed
// at ~800 bytes per parked connection. Packed into blocks, the entries occupy few pages
// and the freed connections' pages come back.
#pragma once

#include <cstddef>
#include <new>
#include <utility>

namespace weft::http {

template <class T, std::size_t PerBlock = 32>
class BlockPool {
 public:
  BlockPool() = default;
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;
  ~BlockPool() {  // every object must have been destroyed already
    while (Block* b = with_room_) {
      with_room_ = b->next;
      delete b;
    }
  }

  template <class... Args>
  T* make(Args&&... args) {
    if (!with_room_) link(new Block());
    Block* b = with_room_;
    Slot* s = b->free;
    Slot* next = s->next_free_or_null();  // read before the object overwrites it
    T* obj;
    try {
      obj = ::new (static_cast<void*>(s->bytes)) T(std::forward<Args>(args)...);
    } catch (...) {
      s->set_next_free(next);  // the slot stays free
      throw;
    }
    b->free = next;
    if (++b->live == PerBlock) unlink(b);  // full: no longer offered
    return obj;
  }

  void destroy(T* obj) noexcept {
    Slot* s =
        reinterpret_cast<Slot*>(reinterpret_cast<unsigned char*>(obj) - offsetof(Slot, bytes));
    Block* b = s->owner;
    obj->~T();
    s->set_next_free(b->free);
    b->free = s;
    if (b->live-- == PerBlock) link(b);  // was full: has room again
    if (b->live == 0) {                  // empty: the whole block goes back to malloc
      unlink(b);
      delete b;
    }
  }

 private:
  struct Block;
  struct Slot {
    Block* owner;
    alignas(T) unsigned char bytes[sizeof(T)];  // a T, or (when free) the next free slot
    Slot* next_free_or_null() const noexcept {
      Slot* n;
      // NOLINTNEXTLINE(bugprone-sizeof-expression): copies the pointer's own bytes
      __builtin_memcpy(&n, bytes, sizeof n);
      return n;
    }
    void set_next_free(Slot* n) noexcept {
      // NOLINTNEXTLINE(bugprone-sizeof-expression): copies the pointer's own bytes
      __builtin_memcpy(bytes, &n, sizeof n);
    }
  };
  static_assert(sizeof(T) >= sizeof(Slot*));
  struct Block {
    Block() noexcept {
      for (std::size_t i = 0; i < PerBlock; ++i) {
        slots[i].owner = this;
        slots[i].set_next_free(i + 1 < PerBlock ? &slots[i + 1] : nullptr);
      }
      free = &slots[0];
    }
    Slot slots[PerBlock];
    Slot* free = nullptr;
    std::size_t live = 0;
    Block* prev = nullptr;  // in the list of blocks with room
    Block* next = nullptr;
  };

  void link(Block* b) noexcept {
    b->prev = nullptr;
    b->next = with_room_;
    if (with_room_) with_room_->prev = b;
    with_room_ = b;
  }
  void unlink(Block* b) noexcept {
    (b->prev ? b->prev->next : with_room_) = b->next;
    if (b->next) b->next->prev = b->prev;
    b->prev = b->next = nullptr;
  }

  Block* with_room_ = nullptr;  // blocks with at least one free slot
};

}  // namespace weft::http
