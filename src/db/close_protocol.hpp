// The close protocol both database fronts share (sqlite::Front, pg::Front; the contract
// is database.hpp's "Lifetime"):
//  * close(cb): the front is closing from then on — statements, begin() and ready() are
//    refused with errc::closed (closing()) — and cb waits for the close. A close() after
//    the close finished succeeds in the next pending phase.
//  * check(front), called whenever the front's load may have dropped: at most one check
//    pending at a time, run in the next pending phase (never inside the call, and after a
//    completion callback that is about to queue its transaction's next statement); it
//    calls front.close_step(), which returns while work is left, rolls back a transaction
//    left open with nothing queued, or, once idle, calls shutting_down() and closes the
//    connections.
//  * finish() once the connections are closed: the waiting callbacks, for the front to
//    call with success (succeed()), each in the way it delivers completions.
//  * Destruction: take_callbacks() hands the waiting callbacks over, also for success
//    (the connections close on their own once the last job is done with them).
// Loop thread only.
#pragma once

#include <weft/db/error.hpp>
#include <weft/loop.hpp>

#include <concepts>
#include <memory>
#include <utility>
#include <vector>

namespace weft::db::detail {

class CloseProtocol {
 public:
  bool closing() const noexcept { return state_ != State::open; }
  // close_step() decided to close the connections (it is not called again).
  bool shutting_down_started() const noexcept { return state_ >= State::shutting_down; }
  bool closed() const noexcept { return state_ == State::closed; }

  void request(Loop& loop, Callback<void> cb) {
    if (state_ == State::closed) return succeed_later(loop, std::move(cb));
    callbacks_.push_back(std::move(cb));
    if (state_ == State::open) state_ = State::closing;
  }

  // F: the front; close_step() may be private if F befriends CloseProtocol.
  template <class F>
  void check(F& front) {
    if (state_ != State::closing || check_pending_) return;
    check_pending_ = true;
    front.loop.defer([weak = front.weak_from_this(), this] {
      auto f = weak.lock();
      if (!f) return;  // `this` is a member of *f: gone with it
      check_pending_ = false;
      if (state_ == State::closing) f->close_step();
    });
  }

  void shutting_down() noexcept { state_ = State::shutting_down; }
  std::vector<Callback<void>> finish() {
    state_ = State::closed;
    return take_callbacks();
  }
  std::vector<Callback<void>> take_callbacks() noexcept { return std::exchange(callbacks_, {}); }

  static void succeed(Callback<void>& cb) {
    Outcome<void> ok;
    if (cb) cb(ok);
  }
  static void succeed_later(Loop& loop, Callback<void> cb) {
    loop.defer([cb = std::move(cb)]() mutable { succeed(cb); });
  }

 private:
  enum class State : unsigned char { open, closing, shutting_down, closed };
  State state_ = State::open;
  bool check_pending_ = false;
  std::vector<Callback<void>> callbacks_;
};

}  // namespace weft::db::detail
