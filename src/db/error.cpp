// The weft.db error category and the exception conversions.
#include <weft/db/error.hpp>

#include <exception>
#include <string>

namespace weft::db {
namespace {

const char* describe(int value) noexcept {
  switch (static_cast<errc>(value)) {
    case errc::sql_error:
      return "SQL error";
    case errc::internal:
      return "internal database error";
    case errc::permission:
      return "access permission denied";
    case errc::abort:
      return "aborted";
    case errc::busy:
      return "database is locked (busy)";
    case errc::locked:
      return "table is locked";
    case errc::no_memory:
      return "out of memory";
    case errc::readonly:
      return "attempt to write a read-only database";
    case errc::interrupted:
      return "interrupted";
    case errc::io:
      return "disk I/O error";
    case errc::corrupt:
      return "database disk image is malformed";
    case errc::not_found:
      return "not found";
    case errc::full:
      return "database or disk is full";
    case errc::cant_open:
      return "unable to open database file";
    case errc::protocol:
      return "locking protocol error";
    case errc::empty:
      return "empty";
    case errc::schema:
      return "database schema has changed";
    case errc::too_big:
      return "string or blob too big";
    case errc::constraint:
      return "constraint violation";
    case errc::mismatch:
      return "datatype mismatch";
    case errc::misuse:
      return "API misuse";
    case errc::no_lfs:
      return "large file support is disabled";
    case errc::auth:
      return "authorization denied";
    case errc::format:
      return "format error";
    case errc::range:
      return "parameter out of range";
    case errc::not_a_database:
      return "file is not a database";
    case errc::bad_url:
      return "bad database URL";
    case errc::not_supported:
      return "not supported yet";
    case errc::closed:
      return "database is closed";
    case errc::type_mismatch:
      return "value type mismatch";
    case errc::no_such_column:
      return "no such column";
    case errc::migration_failed:
      return "migration failed";
    case errc::connection_lost:
      return "connection to the database server lost";
  }
  return "database error";
}

class DbCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "weft.db"; }
  std::string message(int value) const override { return describe(value); }
};

}  // namespace

const std::error_category& db_category() noexcept {
  static const DbCategory category;
  return category;
}

Error to_error(std::exception_ptr e) noexcept {
  try {
    try {
      std::rethrow_exception(e);
    } catch (const Error& err) {
      return err;
    } catch (const std::system_error& err) {
      return Error(err.code(), err.what());
    } catch (const std::exception& err) {
      return Error(errc::abort, err.what());
    } catch (...) {
      return Error(errc::abort, "unknown exception");
    }
  } catch (...) {  // copying the message failed
    return Error(make_error_code(errc::no_memory), std::string());
  }
}

}  // namespace weft::db
