// weft::Function — a move-only, type-erased callable (std::move_only_function is C++23).
//
// Callables up to kInlineSize bytes that are nothrow-movable live inside the object,
// so posting a small lambda allocates nothing. Larger ones go to the heap.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace weft {

template <class Signature>
class Function;

template <class R, class... Args>
class Function<R(Args...)> {
 public:
  static constexpr std::size_t kInlineSize = 4 * sizeof(void*);

  Function() noexcept = default;
  Function(std::nullptr_t) noexcept {}

  template <class F, class D = std::decay_t<F>,
            class = std::enable_if_t<!std::is_same_v<D, Function> &&
                                     std::is_invocable_r_v<R, D&, Args...>>>
  Function(F&& f) {  // NOLINT(google-explicit-constructor): callables convert implicitly
    if constexpr (fits_inline<D>()) {
      ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
      ops_ = &inline_ops<D>;
    } else {
      *reinterpret_cast<D**>(storage_) = new D(std::forward<F>(f));
      ops_ = &heap_ops<D>;
    }
  }

  Function(Function&& other) noexcept { take(other); }
  Function& operator=(Function&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  Function(const Function&) = delete;
  Function& operator=(const Function&) = delete;
  ~Function() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }

  R operator()(Args... args) { return ops_->invoke(storage_, std::forward<Args>(args)...); }

  void reset() noexcept {
    if (ops_) {
      ops_->destroy(storage_);
      ops_ = nullptr;
    }
  }

 private:
  struct Ops {
    R (*invoke)(void*, Args&&...);
    void (*move)(void* dst, void* src) noexcept;  // move-construct dst, destroy src
    void (*destroy)(void*) noexcept;
  };

  template <class D>
  static constexpr bool fits_inline() {
    return sizeof(D) <= kInlineSize && alignof(D) <= alignof(std::max_align_t) &&
           std::is_nothrow_move_constructible_v<D>;
  }

  template <class D>
  static D* as(void* p) noexcept {
    return std::launder(static_cast<D*>(p));
  }

  template <class D>
  static constexpr Ops inline_ops = {
      [](void* s, Args&&... a) -> R { return (*as<D>(s))(std::forward<Args>(a)...); },
      [](void* dst, void* src) noexcept {
        ::new (dst) D(std::move(*as<D>(src)));
        as<D>(src)->~D();
      },
      [](void* s) noexcept { as<D>(s)->~D(); }};

  template <class D>
  static constexpr Ops heap_ops = {
      [](void* s, Args&&... a) -> R { return (**static_cast<D**>(s))(std::forward<Args>(a)...); },
      [](void* dst, void* src) noexcept { *static_cast<D**>(dst) = *static_cast<D**>(src); },
      [](void* s) noexcept { delete *static_cast<D**>(s); }};

  void take(Function& other) noexcept {
    if (other.ops_) {
      other.ops_->move(storage_, other.storage_);
      ops_ = std::exchange(other.ops_, nullptr);
    }
  }

  alignas(std::max_align_t) unsigned char storage_[kInlineSize];
  const Ops* ops_ = nullptr;
};

}  // namespace weft
