// Statements: types, parameters, errors, routing rules, the statement cache, :memory:,
// the callback form, open failures and migrations.
#include "db_test_util.hpp"

#include <sqlite3.h>

#include <gtest/gtest.h>

#include <limits>
#include <type_traits>

namespace weft::db {
namespace {

using testing::run;
using testing::TempDir;
using testing::wait;

TEST(DbSqlite, TypesRoundTrip) {
  TempDir dir;
  Loop loop;
  auto db = open(loop, dir.url());
  const std::vector<Value> values = {
      Value(),
      Value(0),
      Value(std::numeric_limits<std::int64_t>::max()),
      Value(std::numeric_limits<std::int64_t>::min()),
      Value(-1.25e300),
      Value(""),
      Value(std::string("nul\0inside", 10)),
      Value("ünïcødé"),
      Value(Blob()),
      Value(Blob::from(std::string("\x00\x01\xff\x00", 4))),
  };
  run(loop, [&]() -> Task<void> {
    co_await db->exec("CREATE TABLE t(i INTEGER PRIMARY KEY, v)");
    for (std::size_t i = 0; i < values.size(); ++i) {
      co_await db->query("INSERT INTO t(i, v) VALUES(?, ?)", params(i, values[i]));
    }
    ResultSet rs = co_await db->query("SELECT v, typeof(v) AS type FROM t ORDER BY i");
    EXPECT_EQ(rs.column_names(), (std::vector<std::string>{"v", "type"}));
    EXPECT_EQ(rs.rows_affected, 0);
    EXPECT_EQ(rs.size(), values.size());
    for (std::size_t i = 0; i < values.size() && i < rs.size(); ++i) {
      EXPECT_EQ(rs[i][0], values[i])
          << "row " << i << ": " << to_string(rs[i][0]) << " vs " << to_string(values[i]);
    }
    EXPECT_EQ(rs[8]["type"].as_text(), "blob");  // an empty blob stays a blob, not NULL
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST(DbSqlite, BindsParametersAndReportsCounts) {
  TempDir dir;
  Loop loop;
  auto db = open(loop, dir.url());
  run(loop, [&]() -> Task<void> {
    co_await db->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)");
    ResultSet ins = co_await db->query("INSERT INTO t(name) VALUES(?), (?)", params("a", "b"));
    EXPECT_EQ(ins.rows_affected, 2);
    EXPECT_EQ(ins.last_insert_id, 2);
    ResultSet upd = co_await db->query("UPDATE t SET name = ? WHERE id >= ?", params("z", 1));
    EXPECT_EQ(upd.rows_affected, 2);
    ResultSet sel =
        co_await db->query("SELECT id FROM t WHERE name = ?1 AND id = ?2", params("z", 2));
    EXPECT_EQ(sel.size(), 1u);
    EXPECT_EQ(sel.front().get<int>("id"), 2);
    try {
      co_await db->query("SELECT ? + ?", params(1));
      ADD_FAILURE() << "a missing parameter was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::range);
      EXPECT_NE(std::string(e.what()).find("takes 2 parameter(s), 1 given"), std::string::npos);
    }
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST(DbSqlite, ErrorsCarryTheCategoryAndTheMessage) {
  TempDir dir;
  Loop loop;
  auto db = open(loop, dir.url());
  run(loop, [&]() -> Task<void> {
    try {
      co_await db->query("SELEC 1");
      ADD_FAILURE() << "no syntax error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::sql_error);
      EXPECT_STREQ(e.code().category().name(), "weft.db");
      EXPECT_NE(std::string(e.what()).find("syntax error"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("SELEC 1"), std::string::npos) << e.what();
    }
    co_await db->exec("CREATE TABLE u(email TEXT UNIQUE NOT NULL)");
    co_await db->query("INSERT INTO u VALUES(?)", params("a@x"));
    try {
      co_await db->query("INSERT INTO u VALUES(?)", params("a@x"));
      ADD_FAILURE() << "no constraint violation";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::constraint);
      EXPECT_EQ(e.backend_code(), SQLITE_CONSTRAINT_UNIQUE);
      EXPECT_NE(std::string(e.what()).find("UNIQUE constraint failed: u.email"), std::string::npos)
          << e.what();
    }
    try {
      co_await db->exec("BEGIN");
      ADD_FAILURE() << "BEGIN through exec() was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::misuse);
    }
    try {
      co_await db->exec("INSERT INTO u VALUES(?); INSERT INTO u VALUES('b')", params("c"));
      ADD_FAILURE() << "a script with parameters was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::misuse);
    }
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST(DbSqlite, RunsScripts) {
  TempDir dir;
  Loop loop;
  auto db = open(loop, dir.url());
  run(loop, [&]() -> Task<void> {
    ResultSet rs = co_await db->exec(
        "CREATE TABLE a(x); INSERT INTO a VALUES(1); INSERT INTO a VALUES(2);\n"
        "SELECT sum(x) AS s FROM a;");
    EXPECT_EQ(rs.size(), 1u);
    EXPECT_EQ(rs.front()["s"].as_int(), 3);
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

class DbStatements : public testing::DbBackendTest {};
WEFT_DB_BOTH_BACKENDS(DbStatements);

TEST_P(DbStatements, StatementCachePreparesOnce) {
  Loop loop;
  auto db = open(loop, url());
  run(loop, [&]() -> Task<void> {
    co_await db->exec("CREATE TABLE t(v INTEGER)");
    Stats before = db->stats();
    co_await db->exec("INSERT INTO t VALUES(?)", params(1));
    co_await db->exec("INSERT INTO t VALUES(?)", params(2));
    Stats after = db->stats();
    EXPECT_EQ(after.prepares - before.prepares, 1u);
    EXPECT_EQ(after.statement_cache_hits - before.statement_cache_hits, 1u);
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

// Error::is_unique_violation() names a duplicate key on both backends (primary key and
// UNIQUE), and nothing else (NOT NULL, CHECK are constraints too).
TEST_P(DbStatements, UniqueViolationsAreNamedOnBothBackends) {
  Loop loop;
  auto db = open(loop, url());
  auto refused = [&](const char* sql, Params p) -> Error {
    Outcome<ResultSet> out = Error(errc::abort, "not run");
    db->exec(sql, std::move(p), [&](Outcome<ResultSet>& r) { out = std::move(r); });
    loop.run();
    EXPECT_FALSE(out.ok()) << sql;
    return out.ok() ? Error(errc::abort, "accepted") : out.failure();
  };
  wait(loop, db->exec("CREATE TABLE u(id INTEGER PRIMARY KEY, email TEXT UNIQUE, n INTEGER NOT "
                      "NULL CHECK (n > 0))"));
  wait(loop, db->exec("INSERT INTO u(id, email, n) VALUES(1, 'a', 1)"));
  EXPECT_TRUE(
      refused("INSERT INTO u(id, email, n) VALUES(?, ?, 1)", params(1, "b")).is_unique_violation());
  EXPECT_TRUE(
      refused("INSERT INTO u(id, email, n) VALUES(?, ?, 1)", params(2, "a")).is_unique_violation());
  const Error not_null =
      refused("INSERT INTO u(id, email, n) VALUES(?, ?, ?)", params(3, "c", Value()));
  EXPECT_EQ(not_null.code(), errc::constraint);
  EXPECT_FALSE(not_null.is_unique_violation());
  EXPECT_FALSE(refused("INSERT INTO u(id, email, n) VALUES(?, ?, ?)", params(4, "d", 0))
                   .is_unique_violation());
  wait(loop, db->close());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

// The close protocol both backends share: a second close() joins the first, a close()
// after the close finished succeeds (later, never inside the call), and everything else
// is refused with errc::closed once close() was called.
TEST_P(DbStatements, CloseJoinsAndRepeatsAndRefusesWhatFollows) {
  Loop loop;
  auto db = open(loop, url());
  std::vector<std::string> log;
  bool returned = false;
  db->exec("CREATE TABLE t(v INTEGER)", {}, [&](Outcome<ResultSet>& r) {
    EXPECT_TRUE(r.ok()) << r.what();
    log.push_back("create");
  });
  db->close([&](Outcome<void>& r) {
    EXPECT_TRUE(r.ok()) << r.what();
    log.push_back("close 1");
    db->close([&](Outcome<void>& again) {
      EXPECT_TRUE(again.ok()) << again.what();
      EXPECT_TRUE(returned);
      log.push_back("close 3");
    });
    returned = true;
  });
  db->close([&](Outcome<void>& r) {
    EXPECT_TRUE(r.ok()) << r.what();
    log.push_back("close 2");
  });
  db->query("SELECT 1", {}, [&](Outcome<ResultSet>& r) {
    EXPECT_EQ(r.error(), errc::closed);
    log.push_back("refused");
  });
  loop.run();
  EXPECT_EQ(log, (std::vector<std::string>{"refused", "create", "close 1", "close 2", "close 3"}));
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST_P(DbStatements, StatementCacheEvictsLeastRecentlyUsed) {
  Loop loop;
  Options opts;
  opts.statement_cache_size = 2;
  auto db = open(loop, url(), opts);
  run(loop, [&]() -> Task<void> {
    co_await db->exec("CREATE TABLE t(v INTEGER)");
    Stats s0 = db->stats();
    co_await db->exec("SELECT 1");
    co_await db->exec("SELECT 2");
    co_await db->exec("SELECT 1");  // hit
    co_await db->exec("SELECT 3");  // evicts SELECT 2
    co_await db->exec("SELECT 2");  // prepared again
    Stats s1 = db->stats();
    EXPECT_EQ(s1.prepares - s0.prepares, 4u);
    EXPECT_EQ(s1.statement_cache_hits - s0.statement_cache_hits, 1u);
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

// Options: shared fields at the top, each backend's own in its part; a Postgres part
// is ignored by SQLite (and the other way round).
TEST(DbSqlite, ReadsItsOwnPartOfTheOptions) {
  Loop loop;
  TempDir dir;
  Options opts;
  opts.statement_cache_size = 0;
  opts.sqlite.synchronous = Synchronous::normal;
  opts.sqlite.foreign_keys = false;
  opts.postgres.pool_size = 1;
  auto db = open(loop, dir.url(), opts);
  run(loop, [&]() -> Task<void> {
    ResultSet fk = co_await db->exec("PRAGMA foreign_keys");
    EXPECT_EQ(fk.front()[0].as_int(), 0);
    ResultSet sync = co_await db->exec("PRAGMA synchronous");
    EXPECT_EQ(sync.front()[0].as_int(), 1);  // NORMAL
    co_await db->exec("SELECT 1");
    co_await db->exec("SELECT 1");
    EXPECT_EQ(db->stats().statement_cache_hits, 0u);  // statement_cache_size 0: no cache
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST(DbSqlite, MemoryDatabaseUsesOneConnection) {
  Loop loop;
  auto db = open(loop, "sqlite::memory:");
  run(loop, [&]() -> Task<void> {
    co_await db->exec("CREATE TABLE t(v)");
    co_await db->query("INSERT INTO t VALUES(?)", params("m"));
    ResultSet rs = co_await db->query("SELECT v FROM t");  // the same (only) connection
    EXPECT_EQ(rs.size(), 1u);
    EXPECT_EQ(db->stats().connections_opened, 1u);
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST_P(DbStatements, CallbackFormRunsLaterOnTheLoopThread) {
  Loop loop;
  auto db = open(loop, url());
  bool returned = false;
  int calls = 0;
  db->exec("CREATE TABLE t(v INTEGER)", {}, [&](Outcome<ResultSet>& r) {
    EXPECT_TRUE(r.ok()) << r.what();
    EXPECT_TRUE(returned);
    EXPECT_TRUE(loop.on_loop_thread());
    ++calls;
  });
  // Reads are not ordered after writes still in flight (only writes are ordered): this
  // one may run before the CREATE TABLE above, so it names a table nobody creates.
  db->query("SELECT nope FROM missing", {}, [&](Outcome<ResultSet>& r) {
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error(), errc::sql_error);
    const char* expected = pg() ? "relation \"missing\" does not exist" : "no such table: missing";
    EXPECT_NE(std::string(r.what()).find(expected), std::string::npos) << r.what();
    ++calls;
    db->close([&](Outcome<void>& c) {
      EXPECT_TRUE(c.ok());
      ++calls;
    });
  });
  returned = true;
  loop.run();
  EXPECT_EQ(calls, 3);
  db.reset();
  weft::testing::expect_clean_close(loop);
}

// db::Outcome is weft::Result with the db::Error as its error type.
static_assert(std::is_same_v<Outcome<ResultSet>, weft::Result<ResultSet, Error>>);
static_assert(std::is_same_v<Outcome<void>, weft::Result<void, Error>>);

TEST(DbOutcome, KeepsTheBackendsErrorAndThrowsIt) {
  Outcome<void> ok;
  EXPECT_TRUE(ok);
  EXPECT_NO_THROW(ok.value());
  Outcome<void> failed = Error(errc::constraint, "UNIQUE constraint failed: t.v", 2067);
  EXPECT_EQ(failed.error(), errc::constraint);
  EXPECT_EQ(failed.failure().backend_code(), 2067);
  EXPECT_TRUE(failed.failure().is_unique_violation());
  EXPECT_NE(failed.what().find("UNIQUE constraint failed: t.v"), std::string::npos)
      << failed.what();
  try {
    failed.value();
    ADD_FAILURE() << "value() did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.backend_code(), 2067);
  }
}

TEST(DbSqlite, OpenFailureIsEveryStatementsError) {
  Loop loop;
  auto db = open(loop, "sqlite:/nonexistent-dir-weft/x.db");
  int failures = 0;
  auto expect_cant_open = [&](Outcome<ResultSet>& r) {
    EXPECT_EQ(r.error(), errc::cant_open) << r.what();
    EXPECT_NE(std::string(r.what()).find("/nonexistent-dir-weft/x.db"), std::string::npos);
    ++failures;
  };
  db->query("SELECT 1", {}, expect_cant_open);  // a read waits for the open
  db->exec("CREATE TABLE t(v)", {}, expect_cant_open);
  loop.run();
  EXPECT_EQ(failures, 2);
  try {
    run(loop, open_async(loop, "sqlite:/nonexistent-dir-weft/y.db"));
    ADD_FAILURE() << "open_async did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::cant_open);
  }
  db.reset();
  loop.run();
  weft::testing::expect_clean_close(loop);
}

class DbMigrate : public testing::DbBackendTest {};
WEFT_DB_BOTH_BACKENDS(DbMigrate);

TEST_P(DbMigrate, AppliesEachStepOnceAcrossReopen) {
  Loop loop;
  std::vector<Migration> steps = {
      {1, std::string("CREATE TABLE notes(id ") + serial_key() + ", body TEXT NOT NULL)"},
      {2, "ALTER TABLE notes ADD COLUMN tag TEXT; CREATE INDEX notes_tag ON notes(tag)"},
  };
  for (int round = 0; round < 2; ++round) {
    auto db = run(loop, open_async(loop, url()));
    std::size_t applied = run(loop, migrate(*db, steps));
    EXPECT_EQ(applied, round == 0 ? 2u : 0u);
    run(loop, [&]() -> Task<void> {
      ResultSet rs =
          co_await db->query("SELECT version, applied_at FROM weft_migrations ORDER BY version");
      EXPECT_EQ(rs.size(), 2u);
      co_await db->query("INSERT INTO notes(body, tag) VALUES(?, ?)", params("b", "t"));
      co_await db->close();
    }());
  }
  weft::testing::expect_clean_close(loop);
}

TEST_P(DbMigrate, FailingStepRollsBackAndNamesItsVersion) {
  Loop loop;
  auto db = open(loop, url());
  std::vector<Migration> steps = {
      {1, "CREATE TABLE a(x INTEGER)"},
      {2, "CREATE TABLE b(y INTEGER); INSERT INTO nope VALUES(1)"},
      {3, "CREATE TABLE c(z INTEGER)"},
  };
  try {
    run(loop, migrate(*db, steps));
    ADD_FAILURE() << "migrate did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::migration_failed);
    EXPECT_NE(std::string(e.what()).find("migration 2 failed"), std::string::npos) << e.what();
    const char* expected = pg() ? "relation \"nope\" does not exist" : "no such table: nope";
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
  run(loop, [&]() -> Task<void> {
    ResultSet v = co_await db->query("SELECT version FROM weft_migrations");
    EXPECT_EQ(v.size(), 1u);
    ResultSet tables = co_await db->query(
        pg() ? "SELECT table_name::text FROM information_schema.tables WHERE table_schema = "
               "current_schema() "
               "AND table_name IN ('a', 'b', 'c')"
             : "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('a', 'b', 'c')");
    EXPECT_EQ(tables.size(), 1u);  // b was rolled back with its step; c never ran
    EXPECT_EQ(tables.front()[0].as_text(), "a");
    co_await db->close();
  }());
  EXPECT_THROW(run(loop, migrate(*db, {{1, "x"}, {1, "y"}})), std::invalid_argument);
  db.reset();
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::db
