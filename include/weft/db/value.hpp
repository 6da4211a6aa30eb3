// weft::db values: what a parameter binds and what a result row holds.
//
// A Value is one of five types, the storage classes SQLite has and every SQL database
// can represent: null, integer (int64), real (double), text (UTF-8 std::string, may hold
// embedded NUL bytes) and blob (Blob, raw bytes). Values convert implicitly from the
// matching C++ types, so parameters read naturally:
//     db->query("SELECT * FROM t WHERE id = ? AND name = ?", {42, "ann"});
// bool binds as integer 0/1, std::optional<T> as T or null, nullptr / db::Null{} as null.
// (In coroutines compiled by GCC 12, see params() below.)
//
// Reading: as_int(), as_double(), as_text(), as_blob() throw db::Error
// (errc::type_mismatch) on another type — no silent conversion, except that as_double()
// accepts an integer. as<T>() picks by type: any integral, floating, std::string,
// std::string_view (valid while the Value lives), Blob, and std::optional<U> (null ->
// nullopt). Integral targets throw errc::type_mismatch when the value does not fit.
//
// Rows: a ResultSet's rows share one column-name list (a shared_ptr); Row::operator[]
// takes an index or a column name (first match; errc::no_such_column if none).
#pragma once

#include <weft/db/error.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace weft::db {

struct Null {
  friend bool operator==(Null, Null) noexcept { return true; }
};

// Raw bytes; a distinct type so that text and blobs never mix up.
struct Blob {
  std::vector<std::byte> bytes;

  Blob() = default;
  explicit Blob(std::vector<std::byte> b) : bytes(std::move(b)) {}
  Blob(const void* data, std::size_t size)
      : bytes(static_cast<const std::byte*>(data), static_cast<const std::byte*>(data) + size) {}
  static Blob from(std::string_view s) { return Blob(s.data(), s.size()); }

  std::size_t size() const noexcept { return bytes.size(); }
  bool empty() const noexcept { return bytes.empty(); }
  const std::byte* data() const noexcept { return bytes.data(); }
  friend bool operator==(const Blob&, const Blob&) = default;
};

enum class Type : unsigned char { null, integer, real, text, blob };
const char* to_string(Type) noexcept;

namespace detail {
template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
[[noreturn]] void throw_type_mismatch(Type actual, const char* wanted);
}  // namespace detail

class Value {
 public:
  using Variant = std::variant<Null, std::int64_t, double, std::string, Blob>;

  Value() noexcept = default;        // null
  Value(Null) noexcept {}            // NOLINT
  Value(std::nullptr_t) noexcept {}  // NOLINT
  template <std::integral I>
  Value(I v) noexcept : v_(static_cast<std::int64_t>(v)) {}  // NOLINT
  template <std::floating_point F>
  Value(F v) noexcept : v_(static_cast<double>(v)) {}  // NOLINT
  Value(std::string s) noexcept : v_(std::move(s)) {}  // NOLINT
  Value(std::string_view s) : v_(std::string(s)) {}    // NOLINT
  Value(const char* s) : v_(std::string(s)) {}         // NOLINT
  Value(Blob b) noexcept : v_(std::move(b)) {}         // NOLINT
  template <class T>
  Value(std::optional<T> o) : Value(o ? Value(std::move(*o)) : Value()) {}  // NOLINT

  Type type() const noexcept { return static_cast<Type>(v_.index()); }
  bool is_null() const noexcept { return v_.index() == 0; }
  const Variant& variant() const noexcept { return v_; }

  std::int64_t as_int() const {
    if (auto* p = std::get_if<std::int64_t>(&v_)) return *p;
    detail::throw_type_mismatch(type(), "integer");
  }
  double as_double() const {
    if (auto* p = std::get_if<double>(&v_)) return *p;
    if (auto* p = std::get_if<std::int64_t>(&v_)) return static_cast<double>(*p);
    detail::throw_type_mismatch(type(), "real");
  }
  const std::string& as_text() const {
    if (auto* p = std::get_if<std::string>(&v_)) return *p;
    detail::throw_type_mismatch(type(), "text");
  }
  const Blob& as_blob() const {
    if (auto* p = std::get_if<Blob>(&v_)) return *p;
    detail::throw_type_mismatch(type(), "blob");
  }

  template <class T>
  T as() const {
    if constexpr (detail::IsOptional<T>::value) {
      if (is_null()) return std::nullopt;
      return as<typename T::value_type>();
    } else if constexpr (std::is_same_v<T, bool>) {
      return as_int() != 0;
    } else if constexpr (std::integral<T>) {
      std::int64_t v = as_int();
      if (!std::in_range<T>(v)) detail::throw_type_mismatch(type(), "a narrower integer");
      return static_cast<T>(v);
    } else if constexpr (std::floating_point<T>) {
      return static_cast<T>(as_double());
    } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>) {
      return as_text();
    } else if constexpr (std::is_same_v<T, Blob>) {
      return as_blob();
    } else {
      static_assert(!sizeof(T), "Value::as<T>: unsupported type");
    }
  }

  friend bool operator==(const Value&, const Value&) = default;

 private:
  Variant v_;
};

// For logs and test failures: NULL, 42, 2.5, 'text', x'00ff'.
std::string to_string(const Value& v);

using Params = std::vector<Value>;

// params(a, b, c): a Params without a braced list. GCC 12 cannot compile a braced list
// inside a co_await expression (`co_await db->query(sql, {1, "x"})` fails with "array
// used as initializer"); write `co_await db->query(sql, db::params(1, "x"))` there, or
// build the Params in a local first. Clang 16 and the
// callback forms take braced lists; code that GCC 12 also builds uses params().
template <class... A>
Params params(A&&... args) {
  Params p;
  p.reserve(sizeof...(A));
  (p.emplace_back(std::forward<A>(args)), ...);
  return p;
}
using Columns = std::shared_ptr<const std::vector<std::string>>;

class Row {
 public:
  Row() = default;
  Row(Columns columns, std::vector<Value> values)
      : columns_(std::move(columns)), values_(std::move(values)) {}

  std::size_t size() const noexcept { return values_.size(); }
  const Value& operator[](std::size_t i) const { return values_.at(i); }
  const Value& operator[](std::string_view column) const;  // throws errc::no_such_column
  template <class T>
  T get(std::size_t i) const {
    return (*this)[i].as<T>();
  }
  template <class T>
  T get(std::string_view column) const {
    return (*this)[column].as<T>();
  }

  const std::vector<Value>& values() const noexcept { return values_; }
  const std::vector<std::string>& columns() const noexcept;
  auto begin() const noexcept { return values_.begin(); }
  auto end() const noexcept { return values_.end(); }

 private:
  Columns columns_;
  std::vector<Value> values_;
};

// The result of one statement.
struct ResultSet {
  std::vector<Row> rows;
  Columns columns;                  // names, shared with every row; may be null (none)
  std::int64_t rows_affected = 0;   // rows inserted/updated/deleted by a write (0 for reads)
  std::int64_t last_insert_id = 0;  // SQLite: the writer's last rowid after a write, else 0

  bool empty() const noexcept { return rows.empty(); }
  std::size_t size() const noexcept { return rows.size(); }
  const Row& front() const { return rows.at(0); }
  const Row& operator[](std::size_t i) const { return rows.at(i); }
  auto begin() const noexcept { return rows.begin(); }
  auto end() const noexcept { return rows.end(); }
  const std::vector<std::string>& column_names() const noexcept;
};

}  // namespace weft::db
