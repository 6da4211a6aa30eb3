// Braced parameter lists inside co_await: `co_await db->query(sql, {1, "x"})`. GCC 12
// cannot compile this ("array used as initializer") and needs db::params(1, "x"); clang
// (the debug and asan presets' compiler) can. CMake adds this file to db_tests only when
// the compiler accepts the form (WEFT_CO_AWAIT_BRACED_LISTS, tests/unit/db/CMakeLists.txt).
#include "db_test_util.hpp"

#include <gtest/gtest.h>

namespace weft::db {
namespace {

using testing::run;
using testing::TempDir;

TEST(DbBracedParams, BracedListsBindInsideCoAwait) {
  TempDir dir;
  Loop loop;
  auto db = open(loop, dir.url());
  run(loop, [&]() -> Task<void> {
    co_await db->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL)");
    ResultSet ins = co_await db->exec("INSERT INTO t(id, name, score) VALUES(?, ?, ?), (?, ?, ?)",
                                      {1, "x", 2.5, 2, "y", nullptr});
    EXPECT_EQ(ins.rows_affected, 2);
    ResultSet sel = co_await db->query(
        "SELECT name, score FROM t WHERE id >= ? AND name <> ? ORDER BY id", {1, "nobody"});
    EXPECT_EQ(sel.size(), 2u);
    if (sel.size() == 2) {
      EXPECT_EQ(sel[0].get<std::string>("name"), "x");
      EXPECT_EQ(sel[0]["score"].as_double(), 2.5);
      EXPECT_EQ(sel[1].get<std::string>("name"), "y");
      EXPECT_TRUE(sel[1]["score"].is_null());
    }
    // The braced form and db::params bind the same values.
    ResultSet braced = co_await db->query("SELECT ? || ?", {"a", 1});
    ResultSet called = co_await db->query("SELECT ? || ?", params("a", 1));
    EXPECT_EQ(braced.front()[0], called.front()[0]);
    EXPECT_EQ(braced.front()[0].as_text(), "a1");
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::db
