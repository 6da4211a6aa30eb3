// The database backends the weft-serve suite runs against, and a fresh database of each
// for one test.
#pragma once

#include "app/serve_process.hpp"
#include "support/pg_server.hpp"

#include <string>
#include <vector>

namespace weft::serve_test {

enum class BackendKind { sqlite, postgres };

inline const char* to_string(BackendKind k) {
  return k == BackendKind::sqlite ? "sqlite" : "postgres";
}

inline std::vector<BackendKind> backends() { return {BackendKind::sqlite, BackendKind::postgres}; }

// A database URL no other test uses: a new file, or a new schema of the test run's
// PostgreSQL server (tests/support/pg_server.hpp; a missing server fails the test).
inline std::string make_database_url(BackendKind kind, const TempDir& dir) {
  if (kind == BackendKind::postgres) return weft::testing::shared_pg_server().fresh_schema_url();
  return "sqlite:" + dir.file("data/weft.db");
}

}  // namespace weft::serve_test
