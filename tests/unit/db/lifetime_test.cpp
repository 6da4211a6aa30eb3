// Lifetime: a Database destroyed with statements queued and running (every callback is
// called exactly once, nothing touches freed memory — ASan checks), destroyed inside its
// own callback, close() waiting for queued work, coroutines dropped while they wait.
#include "db_test_util.hpp"

#include <coroutine>
#include <exception>

#include <gtest/gtest.h>

namespace weft::db {
namespace {

using testing::run;
using testing::TempDir;

class DbLifetime : public testing::DbBackendTest {};
WEFT_DB_BOTH_BACKENDS(DbLifetime);

TEST_P(DbLifetime, DestroyedWithStatementsInFlight) {
  Loop loop;
  Options opts;
  opts.postgres.pipeline_depth = 4;  // PostgreSQL: most statements are still unsent
  auto db = run(loop, open_async(loop, url(), opts));
  run(loop, [&]() -> Task<void> { co_await db->exec("CREATE TABLE t(v INTEGER)"); }());
  constexpr int kEach = 100;
  int ok = 0;
  int canceled = 0;
  int other = 0;
  auto count = [&](Outcome<ResultSet>& r) {
    if (r.ok()) {
      ++ok;
    } else if (r.error() == std::errc::operation_canceled) {
      ++canceled;
    } else {
      ++other;
      ADD_FAILURE() << r.what();
    }
  };
  for (int i = 0; i < kEach; ++i) {
    db->query("INSERT INTO t VALUES(?)", {i}, count);
    db->query("SELECT count(*) FROM t", {}, count);
  }
  std::unique_ptr<Transaction> held;
  db->begin([&](Outcome<std::unique_ptr<Transaction>>& r) {
    if (r.ok()) held = std::move(r.value());
  });
  db.reset();  // SQLite: at most one write is on the pool; the rest are canceled
  loop.run();
  EXPECT_EQ(ok + canceled + other, 2 * kEach);
  EXPECT_GT(canceled, 0);
  EXPECT_EQ(other, 0);
  held.reset();  // a Transaction may outlive its Database
  weft::testing::expect_clean_close(loop);
}

TEST_P(DbLifetime, DestroyedInsideItsOwnCallback) {
  Loop loop;
  auto db = open(loop, url());
  int calls = 0;
  db->exec("CREATE TABLE t(v INTEGER)", {}, [&](Outcome<ResultSet>& r) {
    EXPECT_TRUE(r.ok());
    ++calls;
    db.reset();
  });
  db->exec("INSERT INTO t VALUES(1)", {}, [&](Outcome<ResultSet>& r) {
    ++calls;
    // Either it was already submitted when the database went away, or canceled.
    if (!r.ok()) {
      EXPECT_EQ(r.error(), std::errc::operation_canceled);
    }
  });
  loop.run();
  EXPECT_EQ(calls, 2);
  weft::testing::expect_clean_close(loop);
}

TEST_P(DbLifetime, CloseWaitsForQueuedWorkThenRefusesMore) {
  Loop loop;
  auto db = open(loop, url());
  std::vector<std::string> events;
  db->exec("CREATE TABLE t(v INTEGER)", {},
           [&](Outcome<ResultSet>&) { events.push_back("create"); });
  for (int i = 0; i < 10; ++i) {
    db->query("INSERT INTO t VALUES(?)", {i}, [&](Outcome<ResultSet>& r) {
      EXPECT_TRUE(r.ok()) << r.what();
      events.push_back("insert");
    });
  }
  db->close([&](Outcome<void>& r) {
    EXPECT_TRUE(r.ok());
    events.push_back("closed");
  });
  db->query("SELECT 1", {}, [&](Outcome<ResultSet>& r) {
    EXPECT_EQ(r.error(), errc::closed);
    events.push_back("refused");
  });
  loop.run();
  ASSERT_EQ(events.size(), 13u);
  EXPECT_EQ(events[0], "refused");  // a refusal comes at once (the next pending phase)
  EXPECT_EQ(events[1], "create");
  EXPECT_EQ(events.back(), "closed");
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST_P(DbLifetime, CloseRollsBackAnIdleTransaction) {
  Loop loop;
  auto db = open(loop, url());
  run(loop, [&]() -> Task<void> {
    co_await db->exec("CREATE TABLE t(v INTEGER)");
    std::unique_ptr<Transaction> tx = co_await db->begin();
    co_await tx->exec("INSERT INTO t VALUES(1)");
    co_await db->close();  // the transaction is idle: rolled back, then closed
    try {
      co_await tx->commit();
      ADD_FAILURE() << "commit after close succeeded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::abort);
    }
  }());
  db.reset();
  auto again = open(loop, url());
  run(loop, [&]() -> Task<void> {
    ResultSet rs = co_await again->query("SELECT count(*) FROM t");
    EXPECT_EQ(rs.front()[0].as_int(), 0);
    co_await again->close();
  }());
  again.reset();
  weft::testing::expect_clean_close(loop);
}

// A coroutine that starts at once and is destroyed by hand (Task cannot be).
struct Eager {
  struct promise_type {
    Eager get_return_object() { return {std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
  std::coroutine_handle<promise_type> h;
};

Eager wait_for_statement(Database& db, bool& resumed) {
  co_await db.exec("CREATE TABLE t(v INTEGER)");
  resumed = true;
}

TEST_P(DbLifetime, CoroutineDestroyedWhileWaiting) {
  Loop loop;
  auto db = open(loop, url());
  bool resumed = false;
  Eager e = wait_for_statement(*db, resumed);
  ASSERT_FALSE(e.h.done());
  // Suspended in co_await: not resumed into, and the statement — still waiting for the
  // database to open — is cancelled with its awaiter (removed: it never runs).
  e.h.destroy();
  loop.run();
  EXPECT_FALSE(resumed);
  run(loop, [&]() -> Task<void> {
    ResultSet rs =
        co_await db->query(pg() ? "SELECT to_regclass('t') WHERE to_regclass('t') IS NOT NULL"
                                : "SELECT name FROM sqlite_master WHERE name = 't'");
    EXPECT_EQ(rs.size(), 0u);  // the statement never ran
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::db
