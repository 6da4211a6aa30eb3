// Schema migrations: ordered steps, each applied once, recorded in a table.
//
//   std::size_t applied = co_await weft::db::migrate(*db, {
//       {1, "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL)"},
//       {2, "ALTER TABLE notes ADD COLUMN created_at TEXT"},
//   });
//
// The table weft_migrations(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) is
// created if missing. Each step whose version is not in it runs in its own transaction
// together with the insertion of its row (applied_at: UTC, ISO 8601), so a step is
// applied entirely and recorded, or not at all. Steps run in ascending version order; a
// step's SQL may hold several statements separated by ';'. Versions must be positive and
// unique (std::invalid_argument otherwise). Versions recorded but not listed are ignored.
//
// A failing step is rolled back and migrate() throws db::Error(errc::migration_failed)
// whose message names the version and carries the database's message; the steps before it
// stay applied. Returns the number of steps applied by this call (0 when up to date).
// Concurrent migrate() calls on one Database are safe: the version is re-checked inside
// the step's transaction.
#pragma once

#include <weft/db/database.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace weft::db {

struct Migration {
  std::int64_t version;
  std::string sql;
};

Task<std::size_t> migrate(Database& db, std::vector<Migration> steps);

}  // namespace weft::db
