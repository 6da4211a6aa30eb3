// weft::Result<T, E>: the one value-or-error type of the callback forms.
#include <weft/error.hpp>
#include <weft/weft.hpp>

#include "support/loop_testing.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace {

using weft::Result;
using weft::testing::expect_clean_close;

TEST(Result, VoidDefaultsToSuccess) {
  Result<void> r;
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_FALSE(r.error());
  EXPECT_EQ(r.exception(), nullptr);
  EXPECT_EQ(r.what(), "");
  EXPECT_NO_THROW(r.value());
  EXPECT_NO_THROW(r.throw_if_failed());
  static_assert(std::is_void_v<decltype(r.value())>);
}

TEST(Result, VoidCarriesAnErrorCode) {
  Result<void> r = std::make_error_code(std::errc::no_such_file_or_directory);
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::no_such_file_or_directory);
  EXPECT_EQ(r.failure(), std::errc::no_such_file_or_directory);
  EXPECT_EQ(r.what(), std::make_error_code(std::errc::no_such_file_or_directory).message());
  try {
    r.value();
    ADD_FAILURE() << "value() did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
  }
}

TEST(Result, ACapturedExceptionIsWorkThrewAndValueRethrowsIt) {
  Result<void> r = std::make_exception_ptr(std::runtime_error("boom"));
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error(), weft::errc::work_threw);
  EXPECT_NE(r.exception(), nullptr);
  EXPECT_EQ(r.what(), "boom");
  EXPECT_THROW(r.value(), std::runtime_error);
  EXPECT_THROW((void)r.failure(), std::bad_variant_access);  // it holds no error_code
}

TEST(Result, AValueIsMovedOut) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(4);
  ASSERT_TRUE(r);
  EXPECT_EQ(**r, 4);
  std::unique_ptr<int> taken = std::move(r).value();
  EXPECT_EQ(*taken, 4);
  const Result<std::string> failed = make_error_code(weft::errc::queue_full);
  EXPECT_THROW((void)failed.value(), std::system_error);
  EXPECT_EQ(failed.failure(), weft::errc::queue_full);
}

// A custom error type: ErrorTraits says how to read it.
struct Detailed {
  std::error_code code;
  std::string where;
};

}  // namespace

template <>
struct weft::ErrorTraits<Detailed> {
  static std::error_code code(const Detailed& e) noexcept { return e.code; }
  static std::string message(const Detailed& e) { return e.where + ": " + e.code.message(); }
  [[noreturn]] static void raise(const Detailed& e) { throw std::runtime_error(message(e)); }
};

namespace {

TEST(Result, ACustomErrorTypeKeepsItsDetails) {
  Result<int, Detailed> r = Detailed{make_error_code(weft::errc::loop_gone), "here"};
  EXPECT_EQ(r.error(), weft::errc::loop_gone);
  EXPECT_EQ(r.failure().where, "here");
  EXPECT_EQ(r.what(), "here: " + make_error_code(weft::errc::loop_gone).message());
  EXPECT_THROW((void)r.value(), std::runtime_error);
  Result<void, Detailed> ok;
  EXPECT_TRUE(ok);
}

TEST(Result, PoolWorkReturningVoidCompletesWithResultVoid) {
  weft::Loop loop;
  int done = 0;
  auto ok = [&](Result<void>& r) {
    EXPECT_TRUE(r.ok());
    ++done;
  };
  auto threw = [&](Result<void>& r) {
    EXPECT_EQ(r.error(), weft::errc::work_threw);
    EXPECT_EQ(r.what(), "from the pool");
    ++done;
  };
  ASSERT_FALSE(weft::queue_work(
      loop, weft::WorkClass::fs, [] {}, ok));
  ASSERT_FALSE(weft::queue_work(
      loop, weft::WorkClass::fs, [] { throw std::runtime_error("from the pool"); }, threw));
  loop.run();
  EXPECT_EQ(done, 2);
  expect_clean_close(loop);
}

}  // namespace
