// Incremental UTF-8 validation (RFC 3629): bytes are checked as they arrive, in pieces of
// any size, so a text message split over frames or reads is rejected at its first invalid
// byte rather than once it is complete (RFC 6455 §8.1: fail fast, close 1007).
// Rejected: overlong forms, surrogates (U+D800..DFFF), code points above U+10FFFF, stray
// continuation bytes, 0xC0/0xC1/0xF5..0xFF. ASCII runs are checked 8 bytes at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace weft::ws {

class Utf8Validator {
 public:
  // False at the first invalid byte; the validator then stays failed until reset().
  bool feed(std::string_view bytes) noexcept;
  // True when everything fed so far is valid and no character is cut off at the end.
  bool complete() const noexcept { return !failed_ && need_ == 0; }
  bool failed() const noexcept { return failed_; }
  void reset() noexcept { *this = Utf8Validator(); }

 private:
  std::uint8_t need_ = 0;   // continuation bytes still expected
  std::uint8_t lo_ = 0x80;  // the next continuation byte's range
  std::uint8_t hi_ = 0xBF;
  bool failed_ = false;
};

// Whole-string form.
bool is_valid_utf8(std::string_view bytes) noexcept;

}  // namespace weft::ws
