// A small SQL scanner, enough to route a statement before any connection sees it (on the
// loop thread, without blocking): reads may go to reader connections, everything else to
// the writer in submission order. It skips string literals, quoted identifiers, comments
// and parameter names, and looks at each statement's first keyword plus the keywords
// that make a SELECT/WITH write (INSERT, UPDATE, DELETE, REPLACE).
//
// Routing a read is only a first guess: the reader still checks sqlite3_stmt_readonly
// before running it, and reader connections are query_only.
#pragma once

#include <string_view>

namespace weft::db::sql {

enum class Kind : unsigned char {
  empty,                // nothing but whitespace, comments and ';'
  read,                 // SELECT / VALUES / WITH / EXPLAIN without a writing keyword
  write,                // anything else, and every script of several statements
  transaction_control,  // BEGIN, COMMIT, END, ROLLBACK (not ROLLBACK TO)
  savepoint,            // SAVEPOINT, RELEASE, ROLLBACK ... TO
};

struct Info {
  Kind kind = Kind::empty;
  int statements = 0;
};

Info classify(std::string_view sql) noexcept;

// True if `sql` holds no statement (whitespace, comments and ';' only).
bool is_blank(std::string_view sql) noexcept;

}  // namespace weft::db::sql
