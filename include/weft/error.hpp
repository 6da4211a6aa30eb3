// Errors: I/O results are values. Operating-system failures use std::errc /
// std::system_category; weft's own conditions use weft::errc below.
#pragma once

#include <exception>
#include <string>
#include <type_traits>
#include <system_error>
#include <utility>
#include <variant>

namespace weft {

enum class errc {
  queue_full = 1,  // a bounded queue refused the submission (pool, write queue, ...)
  loop_busy,       // Loop::close() while handles or requests are still open
  loop_gone,       // the loop that would have received a completion no longer exists
  work_threw,      // a pool job threw; Result::value() rethrows the original exception
  wrong_thread,    // a loop-thread-only call was made from another thread
  unexpected_eof,  // the peer ended its input before the bytes awaited (read_exactly)
};

const std::error_category& weft_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), weft_category()};
}

// The error every canceled operation reports (same value as ECANCELED).
inline std::error_code canceled_error() noexcept {
  return std::make_error_code(std::errc::operation_canceled);
}

// ErrorTraits<E>: how Result<T, E> reads its error type. A specialization gives
//   static std::error_code code(const E&) noexcept;   // what error() returns
//   static std::string message(const E&);            // what what() returns
//   [[noreturn]] static void raise(const E&);         // what value() throws
// Specialized here for std::error_code, in weft/fs.hpp for fs::ErrorInfo and in
// weft/db/error.hpp for db::Error.
template <class E>
struct ErrorTraits;

template <>
struct ErrorTraits<std::error_code> {
  static std::error_code code(const std::error_code& e) noexcept { return e; }
  static std::string message(const std::error_code& e) { return e.message(); }
  [[noreturn]] static void raise(const std::error_code& e) { throw std::system_error(e); }
};

// Result<T, E>: the one value-or-error type of weft, handed to every callback form (pool
// work, fs, db, dns, ...). It holds a value (nothing for Result<void>), an error E, or a
// captured exception (from pool work). fs::Outcome<T> is Result<T, fs::ErrorInfo> (the
// error keeps the failing call and path), db::Outcome<T> is Result<T, db::Error> (the
// error keeps the backend's message).
//
//   ok() / operator bool    true when it holds the value
//   error()                 the std::error_code: {} when ok(); errc::work_threw for an
//                           exception. Never throws.
//   failure()               the E itself; throws std::bad_variant_access unless it holds one
//   exception()             the captured exception, or nullptr
//   what()                  a message for logs: "" when ok()
//   value()                 the value, or throws: ErrorTraits<E>::raise for an error (a
//                           std::system_error, fs::Error, db::Error), the original
//                           exception for a captured one. Result<void>::value() returns
//                           nothing; call it to throw on failure.
//
// A callback may move the value out (std::move(r).value()).
template <class T, class E = std::error_code>
class Result {
  using Stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
  using Traits = ErrorTraits<E>;

 public:
  using value_type = T;
  using error_type = E;

  Result() noexcept requires std::is_void_v<T>
  = default;
  Result(Stored value)  // NOLINT(google-explicit-constructor): a value converts
      requires(!std::is_void_v<T>)
      : state_(std::in_place_index<0>, std::move(value)) {}
  Result(E error) : state_(std::in_place_index<1>, std::move(error)) {}             // NOLINT
  Result(std::exception_ptr ex) : state_(std::in_place_index<2>, std::move(ex)) {}  // NOLINT

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  std::error_code error() const noexcept {
    if (state_.index() == 1) return Traits::code(std::get<1>(state_));
    if (state_.index() == 2) return make_error_code(errc::work_threw);
    return {};
  }
  const E& failure() const { return std::get<1>(state_); }
  std::exception_ptr exception() const noexcept {
    return state_.index() == 2 ? std::get<2>(state_) : nullptr;
  }
  std::string what() const {
    if (state_.index() == 1) return Traits::message(std::get<1>(state_));
    if (state_.index() == 2) return exception_message(std::get<2>(state_));
    return {};
  }

  void throw_if_failed() const {
    if (state_.index() == 1) Traits::raise(std::get<1>(state_));
    if (state_.index() == 2) std::rethrow_exception(std::get<2>(state_));
  }

  void value() const& requires std::is_void_v<T> { throw_if_failed(); }
  Stored& value() & requires(!std::is_void_v<T>) {
    throw_if_failed();
    return std::get<0>(state_);
  }
  const Stored& value() const& requires(!std::is_void_v<T>) {
    throw_if_failed();
    return std::get<0>(state_);
  }
  Stored&& value() && requires(!std::is_void_v<T>) {
    throw_if_failed();
    return std::get<0>(std::move(state_));
  }
  Stored* operator->() requires(!std::is_void_v<T>) { return &value(); }
  Stored& operator*() & requires(!std::is_void_v<T>) { return value(); }

 private:
  static std::string exception_message(const std::exception_ptr& ex) {
    try {
      std::rethrow_exception(ex);
    } catch (const std::exception& e) {
      return e.what();
    } catch (...) {
      return "unknown exception";
    }
  }

  std::variant<Stored, E, std::exception_ptr> state_;
};

// The value combinators (when_all, when_any, with_timeout) report for a void operand:
// std::monostate. `Unit` is its old name, kept so that existing code compiles.
using Unit = std::monostate;

}  // namespace weft

template <>
struct std::is_error_code_enum<weft::errc> : std::true_type {};
