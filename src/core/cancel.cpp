// CancelSource / CancelToken (include/weft/cancel.hpp).
#include <weft/cancel.hpp>
#include <weft/loop.hpp>

#include <utility>

namespace weft {
namespace detail {

struct CancelState {
  int refs = 1;
  bool cancelled = false;
  CancelRegistration* head = nullptr;
  CancelRegistration* tail = nullptr;

  void link(CancelRegistration* r) noexcept {
    r->prev_ = tail;
    r->next_ = nullptr;
    (tail ? tail->next_ : head) = r;
    tail = r;
  }
  void unlink(CancelRegistration* r) noexcept {
    (r->prev_ ? r->prev_->next_ : head) = r->next_;
    (r->next_ ? r->next_->prev_ : tail) = r->prev_;
    r->prev_ = r->next_ = nullptr;
  }
  // Pops the first registration and runs its callback, outside the list: the callback
  // may destroy anything, including its registration and the source.
  void run_all() {
    while (CancelRegistration* r = head) {
      unlink(r);
      Function<void()> fn = std::move(r->fn_);
      r->state_ = nullptr;
      release(this);  // the registration's reference; the caller holds one more
      fn();
    }
  }
};

void retain(CancelState* s) noexcept { ++s->refs; }
void release(CancelState* s) noexcept {
  if (--s->refs == 0) delete s;
}
bool is_cancelled(const CancelState* s) noexcept { return s && s->cancelled; }

void DeferredResume::schedule(Loop& loop, std::coroutine_handle<> h) {
  slot_ = std::make_shared<std::coroutine_handle<>>(h);
  loop.defer([slot = slot_] {
    if (*slot) std::exchange(*slot, nullptr).resume();
  });
}

}  // namespace detail

void CancelRegistration::attach(const CancelToken& token, Function<void()> fn) {
  detach();
  detail::CancelState* s = token.state_;
  if (!s) return;
  if (s->cancelled) {
    fn();
    return;
  }
  fn_ = std::move(fn);
  state_ = s;
  detail::retain(s);
  s->link(this);
}

void CancelRegistration::detach() noexcept {
  if (!state_) return;
  state_->unlink(this);
  fn_ = nullptr;
  detail::release(std::exchange(state_, nullptr));
}

CancelSource::CancelSource() : state_(new detail::CancelState) {}
CancelSource::~CancelSource() { detail::release(state_); }

void CancelSource::cancel() {
  if (state_->cancelled) return;
  state_->cancelled = true;
  detail::CancelState* s = state_;
  detail::retain(s);  // the source may be destroyed by a callback
  s->run_all();
  detail::release(s);
}

}  // namespace weft
