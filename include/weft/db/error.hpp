// weft::db errors: one error category for every database backend, the db::Error
// exception, and Outcome<T> (= weft::Result<T, db::Error>), the value-or-error the
// callback forms receive.
//
// Codes. db::errc values equal SQLite's primary result codes where SQLite has one (so
// a SQLite failure maps 1:1: SQLITE_CONSTRAINT -> errc::constraint, SQLITE_BUSY ->
// errc::busy, ...); values from 1000 up are weft's own conditions. The PostgreSQL
// backend maps SQLSTATEs onto the same codes: 23xxx -> constraint, 40001/40P01 -> busy,
// other 40xxx -> abort, 42501 -> permission, other 42xxx, 0Axxx, 26xxx, 34xxx ->
// sql_error, 22xxx -> mismatch, 25P02 (statement in an aborted transaction) -> abort,
// other 25xxx -> misuse, 28xxx -> auth, 3D000 -> cant_open, 53100 -> full, 53200 ->
// no_memory, other 53xxx -> busy, 54xxx -> too_big, 55P03/55006 -> locked, 08xxx and
// 57xxx (e.g. pg_terminate_backend) -> connection_lost, 57014 (statement timeout) ->
// std::errc::timed_out, 58xxx -> io, XXxxx -> internal, anything else -> sql_error.
// The category's name is "weft.db".
// Errors that are not the database's own keep their category: a canceled statement is
// std::errc::operation_canceled, a refused pool job weft::errc::queue_full.
//
// db::Error is a std::system_error: code() as above, backend_code() the backend's own
// detailed code (SQLite: the extended result code, e.g. 2067 SQLITE_CONSTRAINT_UNIQUE;
// PostgreSQL: the SQLSTATE packed by sqlstate_code(), e.g. sqlstate_code("23505")),
// what() the backend's message (sqlite3_errmsg) and the statement it concerns, e.g.
//   UNIQUE constraint failed: users.email [in: INSERT INTO users(email) VALUES(?)]:
//   constraint violation
#pragma once

#include <weft/error.hpp>
#include <weft/function.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>

namespace weft::db {

enum class errc {
  sql_error = 1,  // SQL error: syntax, unknown table or column, ... (SQLITE_ERROR)
  internal = 2,
  permission = 3,
  abort = 4,  // the statement or transaction was aborted
  busy = 5,   // the database is locked by another connection (busy_timeout passed)
  locked = 6,
  no_memory = 7,
  readonly = 8,  // a write on a read-only database (or a reader connection)
  interrupted = 9,
  io = 10,
  corrupt = 11,
  not_found = 12,
  full = 13,
  cant_open = 14,  // the database file cannot be opened (missing directory, rights)
  protocol = 15,
  empty = 16,
  schema = 17,
  too_big = 18,
  constraint = 19,  // UNIQUE, NOT NULL, CHECK, FOREIGN KEY violated
  mismatch = 20,    // datatype mismatch
  misuse = 21,      // the API was used wrongly (e.g. BEGIN through exec())
  no_lfs = 22,
  auth = 23,
  format = 24,
  range = 25,  // a parameter index or count is out of range
  not_a_database = 26,
  // weft's own conditions
  bad_url = 1000,    // open(): the URL is malformed or its scheme unknown
  not_supported,     // open(): the backend exists in the interface but not yet here
  closed,            // the database was closed (close() or destruction)
  type_mismatch,     // Value::as_*() on a value of another type
  no_such_column,    // Row::operator[](name) with an unknown name
  migration_failed,  // migrate(): a step failed (the message names its version)
  connection_lost,   // PostgreSQL: the connection broke while the statement was sent
};

const std::error_category& db_category() noexcept;

// A PostgreSQL SQLSTATE ("23505") as the backend_code() of its errors: six bits per
// character, PostgreSQL's own MAKE_SQLSTATE packing. 0 for a string that is not 5 long.
constexpr int sqlstate_code(std::string_view s) noexcept {
  if (s.size() != 5) return 0;
  int code = 0;
  for (std::size_t i = 0; i < 5; ++i) code |= ((s[i] - '0') & 0x3F) << (6 * i);
  return code;
}

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), db_category()};
}

}  // namespace weft::db

template <>
struct std::is_error_code_enum<weft::db::errc> : std::true_type {};

namespace weft::db {

class Error : public std::system_error {
 public:
  Error(std::error_code ec, const std::string& message, int backend_code = 0)
      : std::system_error(ec, message), backend_code_(backend_code) {}
  Error(errc e, const std::string& message) : Error(make_error_code(e), message) {}
  // The backend's detailed code: SQLite's extended result code, PostgreSQL's SQLSTATE
  // packed by sqlstate_code(); 0 when there is none.
  int backend_code() const noexcept { return backend_code_; }
  // A UNIQUE or PRIMARY KEY constraint refused the write (SQLite's
  // SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY, PostgreSQL's 23505 unique_violation).
  bool is_unique_violation() const noexcept {
    constexpr int kSqliteUnique = 2067, kSqlitePrimaryKey = 1555;
    return code() == make_error_code(errc::constraint) &&
           (backend_code_ == kSqliteUnique || backend_code_ == kSqlitePrimaryKey ||
            backend_code_ == sqlstate_code("23505"));
  }

 private:
  int backend_code_ = 0;
};

// Converts any exception into a db::Error: a db::Error is kept, a std::system_error keeps
// its code, anything else becomes errc::abort with its what(). For callback paths.
Error to_error(std::exception_ptr e) noexcept;

}  // namespace weft::db

// How weft::Result reads a db::Error (see weft/error.hpp).
template <>
struct weft::ErrorTraits<weft::db::Error> {
  static std::error_code code(const db::Error& e) noexcept { return e.code(); }
  static std::string message(const db::Error& e) { return e.what(); }
  [[noreturn]] static void raise(const db::Error& e) { throw e; }
};

namespace weft::db {

// The result a callback receives: weft::Result with the db::Error that explains the
// failure, so the backend's message and code travel with it: error() is the code,
// failure() the whole Error, what() its message; value() throws the Error.
template <class T>
using Outcome = Result<T, Error>;

// Every callback form takes this shape. It runs on the loop thread, never inside the
// call that started the operation, and may move the value out.
template <class T>
using Callback = Function<void(Outcome<T>&)>;

}  // namespace weft::db
