// A small SQL scanner, enough to route a statement before any connection sees it (on the
// loop thread, without blocking): reads may go to reader connections, everything else to
// the writer in submission order. It skips string literals, quoted identifiers, comments
// and parameter names, and looks at each statement's first keyword plus the keywords
// that make a SELECT/WITH write (INSERT, UPDATE, DELETE, REPLACE).
//
// Routing a read is only a first guess: the reader still checks sqlite3_stmt_readonly
// before running it, and reader connections are query_only.
//
// Dialects. SQLite also quotes identifiers with `...` and [...]; PostgreSQL has none of
// those ([ is an array subscript) but has dollar-quoted strings ($tag$ ... $tag$, where
// function bodies live), escape strings (E'it\'s') and nested block comments.
#pragma once

#include <string>
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
  // One statement that is INSERT, UPDATE, DELETE or REPLACE, or a SELECT/VALUES/WITH that
  // contains one of them: a data change that may run inside a transaction (so a group
  // commit may take it). DDL, PRAGMA, VACUUM, ATTACH, ... are not.
  bool dml = false;
};

enum class Dialect : unsigned char { sqlite, postgres };

Info classify(std::string_view sql, Dialect dialect = Dialect::sqlite) noexcept;

// PostgreSQL: rewrites the positional parameters `?` to $1, $2, ... and `?NNN` to $NNN
// (SQLite's numbered form; a later bare `?` continues after the largest number so far),
// leaving every `?` inside literals, quoted identifiers and comments alone. `count` gets
// the number of parameters the statement takes (the largest index).
std::string to_dollar_params(std::string_view sql, int& count);

// True if `sql` holds no statement (whitespace, comments and ';' only).
bool is_blank(std::string_view sql) noexcept;

}  // namespace weft::db::sql
