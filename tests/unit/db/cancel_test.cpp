// Cancellation of statements (database.hpp, "Cancellation"): a token or a dropped awaiter
// removes a statement that has not started and stops one that runs — SQLite with
// sqlite3_interrupt, PostgreSQL with a cancel request sent from the pool — and the
// connection goes on with the next statement.
#include "db_test_util.hpp"

#include <weft/async.hpp>
#include <weft/cancel.hpp>
#include <weft/combinators.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <system_error>

namespace weft::db::testing {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Statements that run far longer than any test (minutes): a test that fails to stop
// them hits CTest's timeout rather than passing by accident.
constexpr const char* kLongSqliteRead =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 4000000000) "
    "SELECT count(*) FROM c";
constexpr const char* kLongSqliteWrite =
    "INSERT INTO t(x) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT "
    "4000000000) "
    "SELECT x FROM c";
constexpr const char* kLongPgRead = "SELECT pg_sleep(120)";
constexpr const char* kLongPgWrite = "INSERT INTO t(x) SELECT 1 FROM pg_sleep(120)";

// The error code an operation ended with ({} on success).
template <class T>
Task<std::error_code> code_of(Awaitable<T> a) {
  try {
    co_await std::move(a);
  } catch (const std::system_error& e) {
    co_return e.code();
  }
  co_return std::error_code();
}

Task<void> cancel_after(Duration d, CancelSource& source) {
  co_await sleep(d);
  source.cancel();
}

Task<std::int64_t> count_rows(Database& db) {
  ResultSet rs = co_await db.exec("SELECT count(*) FROM t");
  co_return rs.rows.at(0)[0].as_int();
}

class DbCancel : public DbBackendTest {
 protected:
  const char* long_read() const { return pg() ? kLongPgRead : kLongSqliteRead; }
  const char* long_write() const { return pg() ? kLongPgWrite : kLongSqliteWrite; }
};

WEFT_DB_BOTH_BACKENDS(DbCancel);

// A read that runs is stopped; the same database then answers a new statement (a fresh
// SQL text, so SQLite prepares it: a stale interrupt flag would fail the parse).
TEST_P(DbCancel, ARunningReadIsStoppedAndTheConnectionGoesOn) {
  Loop loop;
  {
    auto db = open(loop, url());
    run(loop, [&]() -> Task<void> {
      co_await db->ready();
      CancelSource source;
      spawn(loop, cancel_after(200ms, source));
      const auto began = SteadyClock::now();
      std::error_code ec = co_await code_of(db->query(long_read(), {}, source.token()));
      EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
      EXPECT_LT(SteadyClock::now() - began, 20s);
      ResultSet rs = co_await db->query("SELECT 40 + 2 AS after_the_cancel");
      EXPECT_EQ(rs.rows.at(0)[0].as_int(), 42);
    }());
    wait(loop, db->close());
  }
  drain(loop);  // PostgreSQL: the cancel request's pool job
  weft::testing::expect_clean_close(loop);
}

// A write that runs is stopped and rolled back; the writer goes on.
TEST_P(DbCancel, ARunningWriteIsStoppedAndRolledBack) {
  Loop loop;
  {
    auto db = open(loop, url());
    run(loop, [&]() -> Task<void> {
      co_await db->exec("CREATE TABLE t(x INTEGER)");
      CancelSource source;
      spawn(loop, cancel_after(200ms, source));
      std::error_code ec = co_await code_of(db->exec(long_write(), {}, source.token()));
      EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
      std::int64_t n = co_await count_rows(*db);
      EXPECT_EQ(n, 0);
      co_await db->exec("INSERT INTO t(x) VALUES (?)", params(7));
      n = co_await count_rows(*db);
      EXPECT_EQ(n, 1);
    }());
    wait(loop, db->close());
  }
  drain(loop);  // PostgreSQL: the cancel request's pool job
  weft::testing::expect_clean_close(loop);
}

// A write queued behind a long one (SQLite: in the writer's FIFO; PostgreSQL: waiting for
// room in a pipeline one deep) is removed at once and never runs; the long one is not
// disturbed until its own token fires.
TEST_P(DbCancel, AQueuedWriteIsRemovedAndNeverRuns) {
  Loop loop;
  {
    Options options;
    options.postgres.pipeline_depth = 1;
    options.postgres.pool_size = 1;
    auto db = open(loop, url(), options);
    run(loop, [&]() -> Task<void> {
      co_await db->exec("CREATE TABLE t(x INTEGER)");
      CancelSource long_source, queued_source;
      std::error_code long_ec, queued_ec;
      bool long_done = false;
      auto long_task = [&]() -> Task<void> {
        long_ec = co_await code_of(db->exec(long_write(), {}, long_source.token()));
        long_done = true;
      };
      spawn(loop, long_task());  // first on the writer
      SteadyClock::time_point queued_done{};
      auto queued = [&]() -> Task<void> {
        queued_ec =
            co_await code_of(db->exec("INSERT INTO t(x) VALUES (1)", {}, queued_source.token()));
        queued_done = SteadyClock::now();
      };
      spawn(loop, queued());
      co_await sleep(200ms);
      const auto canceled_at = SteadyClock::now();
      queued_source.cancel();
      co_await sleep(50ms);
      EXPECT_EQ(queued_ec, std::errc::operation_canceled) << queued_ec.message();
      EXPECT_NE(queued_done, SteadyClock::time_point{});
      EXPECT_LT(queued_done - canceled_at, 1s);
      EXPECT_FALSE(long_done);
      long_source.cancel();
      while (!long_done) co_await sleep(5ms);
      EXPECT_EQ(long_ec, std::errc::operation_canceled) << long_ec.message();
      std::int64_t n = co_await count_rows(*db);
      EXPECT_EQ(n, 0);
    }());
    wait(loop, db->close());
  }
  drain(loop);  // PostgreSQL: the cancel request's pool job
  weft::testing::expect_clean_close(loop);
}

// with_timeout drops the awaiter: the statement is cancelled, not abandoned — close(),
// which waits for everything in flight, returns at once instead of after minutes.
TEST_P(DbCancel, WithTimeoutCancelsTheStatement) {
  Loop loop;
  {
    auto db = open(loop, url());
    run(loop, [&]() -> Task<void> {
      co_await db->ready();
      std::error_code ec;
      try {
        co_await with_timeout(200ms, db->query(long_read()));
      } catch (const std::system_error& e) {
        ec = e.code();
      }
      EXPECT_EQ(ec, std::errc::timed_out);
      const auto began = SteadyClock::now();
      co_await db->close();
      EXPECT_LT(SteadyClock::now() - began, 20s);
    }());
  }
  drain(loop);  // PostgreSQL: the cancel request's pool job
  weft::testing::expect_clean_close(loop);
}

// A token cancelled before the statement is submitted: nothing runs.
TEST_P(DbCancel, AnAlreadyCancelledTokenRunsNothing) {
  Loop loop;
  {
    auto db = open(loop, url());
    run(loop, [&]() -> Task<void> {
      co_await db->exec("CREATE TABLE t(x INTEGER)");
      CancelSource source;
      source.cancel();
      std::error_code ec =
          co_await code_of(db->exec("INSERT INTO t(x) VALUES (1)", {}, source.token()));
      EXPECT_EQ(ec, std::errc::operation_canceled);
      bool called = false;
      std::error_code cb_ec;
      db->exec(
          "INSERT INTO t(x) VALUES (2)", {},
          [&](Outcome<ResultSet>& r) {
            called = true;
            cb_ec = r.ok() ? std::error_code() : r.failure().code();
          },
          source.token());
      EXPECT_FALSE(called);  // never inside the call
      co_await sleep(10ms);
      EXPECT_TRUE(called);
      EXPECT_EQ(cb_ec, std::errc::operation_canceled);
      std::int64_t n = co_await count_rows(*db);
      EXPECT_EQ(n, 0);
    }());
    wait(loop, db->close());
  }
  drain(loop);  // PostgreSQL: the cancel request's pool job
  weft::testing::expect_clean_close(loop);
}

// A statement that finished before its token fired keeps its real outcome.
TEST_P(DbCancel, AFinishedStatementKeepsItsOutcome) {
  Loop loop;
  {
    auto db = open(loop, url());
    run(loop, [&]() -> Task<void> {
      co_await db->exec("CREATE TABLE t(x INTEGER)");
      CancelSource source;
      co_await db->exec("INSERT INTO t(x) VALUES (1)", {}, source.token());
      source.cancel();
      std::int64_t n = co_await count_rows(*db);
      EXPECT_EQ(n, 1);
    }());
    wait(loop, db->close());
  }
  drain(loop);  // PostgreSQL: the cancel request's pool job
  weft::testing::expect_clean_close(loop);
}

// A statement of a transaction: cancelled while it runs, the transaction is rolled back
// by the database (its commit then fails), and the next transaction works.
TEST_P(DbCancel, ACancelledStatementAbortsItsTransaction) {
  Loop loop;
  {
    auto db = open(loop, url());
    run(loop, [&]() -> Task<void> {
      co_await db->exec("CREATE TABLE t(x INTEGER)");
      std::unique_ptr<Transaction> tx = co_await db->begin();
      co_await tx->exec("INSERT INTO t(x) VALUES (1)");
      CancelSource source;
      spawn(loop, cancel_after(200ms, source));
      std::error_code ec = co_await code_of(tx->exec(long_write(), {}, source.token()));
      EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
      std::error_code commit_ec = co_await code_of(tx->commit());
      EXPECT_TRUE(commit_ec);
      std::int64_t n = co_await count_rows(*db);
      EXPECT_EQ(n, 0);
      co_await db->transaction(
          [](Transaction& t2) -> Task<void> { co_await t2.exec("INSERT INTO t(x) VALUES (2)"); });
      n = co_await count_rows(*db);
      EXPECT_EQ(n, 1);
    }());
    wait(loop, db->close());
  }
  drain(loop);  // PostgreSQL: the cancel request's pool job
  weft::testing::expect_clean_close(loop);
}

// PostgreSQL: a cancelled statement behind another in the same pipeline is cancelled
// only once it heads the pipeline — the statement before it is not hit.
TEST(DbPgCancel, OnlyTheHeadOfThePipelineIsCancelled) {
  Loop loop;
  {
    Options options;
    options.postgres.pool_size = 1;
    auto db = open(loop, weft::testing::shared_pg_server().fresh_schema_url(), options);
    run(loop, [&]() -> Task<void> {
      co_await db->ready();
      CancelSource source;
      Task<std::error_code> first = code_of(db->exec("SELECT pg_sleep(0.3)"));
      Task<std::error_code> second = code_of(db->exec(kLongPgRead, {}, source.token()));
      spawn(loop, cancel_after(50ms, source));  // while the first runs, the second waits
      auto [a, b] = co_await when_all(std::move(first), std::move(second));
      EXPECT_FALSE(a) << a.message();
      EXPECT_EQ(b, std::errc::operation_canceled) << b.message();
      ResultSet rs = co_await db->query("SELECT 6 * 7");
      EXPECT_EQ(rs.rows.at(0)[0].as_int(), 42);
    }());
    wait(loop, db->close());
  }
  drain(loop);  // PostgreSQL: the cancel request's pool job
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::db::testing

namespace weft::db::testing {
namespace {

// PostgreSQL group commit: a write cancelled while its group runs leaves the group with
// operation_canceled (the group is rolled back and runs again without it); its
// neighbours are committed.
TEST(DbPgCancel, AWriteInAGroupCommitLeavesItsGroup) {
  Loop loop;
  {
    Options options;
    options.postgres.pool_size = 1;
    auto db = open(loop, weft::testing::shared_pg_server().fresh_schema_url(), options);
    run(loop, [&]() -> Task<void> {
      co_await db->exec("CREATE TABLE t(x INTEGER)");
      CancelSource source;
      std::error_code blocker_ec, ec1, ec2, ec3;
      int done = 0;
      auto write = [&](std::string sql, CancelToken token, std::error_code& out) -> Task<void> {
        out = co_await code_of(db->exec(std::move(sql), {}, std::move(token)));
        ++done;
      };
      spawn(loop, write("SELECT pg_sleep(0.3)", {}, blocker_ec));  // the others queue behind it
      spawn(loop, write("INSERT INTO t(x) VALUES (1)", {}, ec1));
      spawn(loop, write(kLongPgWrite, source.token(), ec2));
      spawn(loop, write("INSERT INTO t(x) VALUES (3)", {}, ec3));
      co_await sleep(600ms);  // the group (1, long, 3) runs its long member now
      source.cancel();
      while (done < 4) co_await sleep(5ms);
      EXPECT_FALSE(blocker_ec) << blocker_ec.message();
      EXPECT_FALSE(ec1) << ec1.message();
      EXPECT_EQ(ec2, std::errc::operation_canceled) << ec2.message();
      EXPECT_FALSE(ec3) << ec3.message();
      ResultSet rs = co_await db->exec("SELECT count(*), sum(x) FROM t");
      EXPECT_EQ(rs.rows.at(0)[0].as_int(), 2);
      EXPECT_EQ(rs.rows.at(0)[1].as_int(), 4);
      GroupStats g = db->group_stats();
      EXPECT_GE(g.grouped_writes,
                4u);  // a group of 3 rolled back, then the 2 others: it was a group
    }());
    wait(loop, db->close());
  }
  drain(loop);
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::db::testing
