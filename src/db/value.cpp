// Values, rows and result sets.
#include <weft/db/value.hpp>

#include <cstdio>
#include <string>

namespace weft::db {

const char* to_string(Type t) noexcept {
  switch (t) {
    case Type::null:
      return "null";
    case Type::integer:
      return "integer";
    case Type::real:
      return "real";
    case Type::text:
      return "text";
    case Type::blob:
      return "blob";
  }
  return "?";
}

namespace detail {
void throw_type_mismatch(Type actual, const char* wanted) {
  throw Error(errc::type_mismatch,
              std::string("value is ") + to_string(actual) + ", not " + wanted);
}
}  // namespace detail

std::string to_string(const Value& v) {
  switch (v.type()) {
    case Type::null:
      return "NULL";
    case Type::integer:
      return std::to_string(v.as_int());
    case Type::real: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v.as_double());
      return buf;
    }
    case Type::text: {
      std::string out = "'";
      for (char c : v.as_text()) {
        if (c == '\'') out += '\'';
        out += c;
      }
      return out + "'";
    }
    case Type::blob: {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string out = "x'";
      for (std::byte b : v.as_blob().bytes) {
        auto u = static_cast<unsigned>(b);
        out += kHex[u >> 4];
        out += kHex[u & 15];
      }
      return out + "'";
    }
  }
  return "?";
}

namespace {
const std::vector<std::string>& no_columns() {
  static const std::vector<std::string> empty;
  return empty;
}
}  // namespace

const Value& Row::operator[](std::string_view column) const {
  const auto& names = columns();
  for (std::size_t i = 0; i < names.size() && i < values_.size(); ++i) {
    if (names[i] == column) return values_[i];
  }
  throw Error(errc::no_such_column, "no column named '" + std::string(column) + "' in the row");
}

const std::vector<std::string>& Row::columns() const noexcept {
  return columns_ ? *columns_ : no_columns();
}

const std::vector<std::string>& ResultSet::column_names() const noexcept {
  return columns ? *columns : no_columns();
}

}  // namespace weft::db
