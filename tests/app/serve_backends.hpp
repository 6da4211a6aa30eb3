// The database backends the weft-serve suite runs against, and a fresh database of each
// for one test.
#pragma once

#include "app/serve_process.hpp"

#include <string>
#include <vector>

namespace weft::serve_test {

enum class BackendKind { sqlite, postgres };

inline const char* to_string(BackendKind k) { return k == BackendKind::sqlite ? "sqlite" : "postgres"; }

inline std::vector<BackendKind> backends() { return {BackendKind::sqlite}; }

// A database URL no other test uses.
inline std::string make_database_url(BackendKind, const TempDir& dir) {
  return "sqlite:" + dir.file("data/weft.db");
}

}  // namespace weft::serve_test
