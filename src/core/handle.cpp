#include <weft/handle.hpp>
#include <weft/loop.hpp>

#include <cstdio>

namespace weft {

const char* to_string(HandleKind kind) noexcept {
  switch (kind) {
    case HandleKind::timer:
      return "timer";
    case HandleKind::signal:
      return "signal";
    case HandleKind::io:
      return "io";
    case HandleKind::idle:
      return "idle";
    case HandleKind::prepare:
      return "prepare";
    case HandleKind::check:
      return "check";
    case HandleKind::tcp:
      return "tcp";
    case HandleKind::unix_stream:
      return "unix";
    case HandleKind::listener:
      return "listener";
    case HandleKind::other:
      return "other";
  }
  return "?";
}

Handle::Handle(Loop& loop, HandleKind kind) : loop_(&loop), kind_(kind) {
  loop.assert_loop_thread();
  loop.link(this);
}

Handle::~Handle() {
  if (!loop_) return;  // the loop died first and detached us
  if (active_) set_active(false);
  if (state_ != State::closed) loop_->unlink(this);
}

void Handle::assert_loop_thread() const noexcept {
  if (loop_) loop_->assert_loop_thread();
}

void Handle::set_active(bool active) noexcept {
  if (active == active_) return;
  active_ = active;
  if (loop_) loop_->probe_.handle_active(kind_, active);
  if (referenced_ && loop_) loop_->on_handle_active_changed(*this, active);
}

void Handle::ref() noexcept {
  assert_loop_thread();
  if (referenced_) return;
  referenced_ = true;
  if (active_ && loop_) loop_->on_handle_ref_changed(*this, true);
}

void Handle::unref() noexcept {
  assert_loop_thread();
  if (!referenced_) return;
  referenced_ = false;
  if (active_ && loop_) loop_->on_handle_ref_changed(*this, false);
}

void Handle::close(Function<void()> on_close) {
  assert_loop_thread();
  if (state_ != State::open || !loop_) return;
  stop_for_close();
  set_active(false);
  state_ = State::closing;
  on_close_ = std::move(on_close);
  loop_->enqueue_closing(this);
}

// ---- the loop's side of handle bookkeeping ----------------------------------------

void Loop::link(Handle* h) noexcept {
  h->next_ = handles_;
  if (handles_) handles_->prev_ = h;
  handles_ = h;
}

void Loop::unlink(Handle* h) noexcept {
  if (h->prev_) {
    h->prev_->next_ = h->next_;
  } else {
    handles_ = h->next_;
  }
  if (h->next_) h->next_->prev_ = h->prev_;
  h->prev_ = h->next_ = nullptr;
  if (h->state_ == Handle::State::closing) {  // destroyed before its close phase
    Handle** p = &closing_head_;
    Handle* prev = nullptr;
    while (*p && *p != h) {
      prev = *p;
      p = &(*p)->next_closing_;
    }
    if (*p) *p = h->next_closing_;
    if (closing_tail_ == h) closing_tail_ = prev;
  }
}

void Loop::enqueue_closing(Handle* h) noexcept {
  h->next_closing_ = nullptr;
  if (closing_tail_) {
    closing_tail_->next_closing_ = h;
  } else {
    closing_head_ = h;
  }
  closing_tail_ = h;
}

void Loop::run_closing() {
  // One at a time from the head: a callback may destroy, or close, other handles.
  while (Handle* h = closing_head_) {
    closing_head_ = h->next_closing_;
    if (!closing_head_) closing_tail_ = nullptr;
    h->state_ = Handle::State::closed;
    unlink(h);
    Function<void()> cb = std::move(h->on_close_);  // the callback may destroy h
    if (cb) invoke(h->label_ ? h->label_ : "close callback", cb);
  }
}

void Loop::on_handle_active_changed(Handle&, bool active) noexcept {
  active ? ++active_ref_handles_ : --active_ref_handles_;
}

void Loop::on_handle_ref_changed(Handle&, bool referenced) noexcept {
  referenced ? ++active_ref_handles_ : --active_ref_handles_;
}

std::vector<HandleInfo> Loop::open_handles() const {
  std::vector<HandleInfo> out;
  for (Handle* h = handles_; h; h = h->next_) {
    out.push_back({h->kind_, h->active_, h->referenced_, h->is_closing(), h->label_});
  }
  return out;
}

std::string Loop::describe_open_handles() const {
  std::string out;
  for (const HandleInfo& h : open_handles()) {
    char line[160];
    std::snprintf(line, sizeof line, "[%c%c%c] %s%s%s\n", h.referenced ? 'R' : '-',
                  h.active ? 'A' : '-', h.closing ? 'C' : '-', to_string(h.kind),
                  h.label ? " " : "", h.label ? h.label : "");
    out += line;
  }
  return out;
}

}  // namespace weft
