// Errors: I/O results are values. Operating-system failures use std::errc /
// std::system_category; weft's own conditions use weft::errc below.
#pragma once

#include <exception>
#include <system_error>
#include <utility>
#include <variant>

namespace weft {

enum class errc {
  queue_full = 1,     // a bounded queue refused the submission (pool, write queue, ...)
  loop_busy,          // Loop::close() while handles or requests are still open
  loop_gone,          // the loop that would have received a completion no longer exists
  work_threw,         // a pool job threw; Result::value() rethrows the original exception
  wrong_thread,       // a loop-thread-only call was made from another thread
  unexpected_eof,     // the peer ended its input before the bytes awaited (read_exactly)
};

const std::error_category& weft_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), weft_category()};
}

// The error every canceled operation reports (same value as ECANCELED).
inline std::error_code canceled_error() noexcept {
  return std::make_error_code(std::errc::operation_canceled);
}

// Result<T>: a value, an error_code, or a captured exception (from pool work).
// value() returns the value or throws: std::system_error for an error code, the
// original exception for a captured one. error() never throws.
template <class T>
class Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(std::error_code ec) : state_(std::in_place_index<1>, ec) {}     // NOLINT
  Result(std::exception_ptr ex) : state_(std::in_place_index<2>, std::move(ex)) {}  // NOLINT

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  std::error_code error() const noexcept {
    if (state_.index() == 1) return std::get<1>(state_);
    if (state_.index() == 2) return make_error_code(errc::work_threw);
    return {};
  }
  std::exception_ptr exception() const noexcept {
    return state_.index() == 2 ? std::get<2>(state_) : nullptr;
  }

  T& value() & {
    throw_if_failed();
    return std::get<0>(state_);
  }
  T&& value() && {
    throw_if_failed();
    return std::get<0>(std::move(state_));
  }
  T* operator->() { return &value(); }
  T& operator*() & { return value(); }

 private:
  void throw_if_failed() const {
    if (state_.index() == 1) throw std::system_error(std::get<1>(state_));
    if (state_.index() == 2) std::rethrow_exception(std::get<2>(state_));
  }

  std::variant<T, std::error_code, std::exception_ptr> state_;
};

struct Unit {};  // the value of a Result for work that returns void

}  // namespace weft

template <>
struct std::is_error_code_enum<weft::errc> : std::true_type {};
