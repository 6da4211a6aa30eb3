// Transactions: commit, rollback on a thrown exception, isolation from readers, the
// writer held for the transaction's duration, the callback forms, abandoned transactions.
#include "db_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

namespace weft::db {
namespace {

using testing::run;
using testing::TempDir;

class DbTransaction : public testing::DbBackendTest {};
WEFT_DB_BOTH_BACKENDS(DbTransaction);

Task<std::int64_t> count_rows(Database& db) {
  ResultSet rs = co_await db.query("SELECT count(*) FROM t");
  co_return rs.front()[0].as_int();
}

TEST_P(DbTransaction, CommitsWhenTheBodyReturns) {
  Loop loop;
  auto db = open(loop, url());
  run(loop, [&]() -> Task<void> {
    co_await db->exec("CREATE TABLE t(v INTEGER)");
    auto body = [](Transaction& tx) -> Task<int> {
      co_await tx.exec("INSERT INTO t VALUES(?)", params(1));
      co_await tx.exec("INSERT INTO t VALUES(?)", params(2));
      ResultSet own = co_await tx.query("SELECT count(*) FROM t");  // sees its own writes
      co_return static_cast<int>(own.front()[0].as_int());
    };
    int seen = co_await db->transaction(body);
    EXPECT_EQ(seen, 2);
    EXPECT_EQ(co_await count_rows(*db), 2);
    Stats s = db->stats();
    EXPECT_EQ(s.transactions, 1u);
    EXPECT_EQ(s.commits, 1u);
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST_P(DbTransaction, RollsBackAndRethrowsWhenTheBodyThrows) {
  Loop loop;
  auto db = open(loop, url());
  run(loop, [&]() -> Task<void> {
    co_await db->exec("CREATE TABLE t(v INTEGER UNIQUE)");
    auto throws = [](Transaction& tx) -> Task<void> {
      co_await tx.exec("INSERT INTO t VALUES(?)", params(1));
      throw std::runtime_error("changed my mind");
    };
    try {
      co_await db->transaction(throws);
      ADD_FAILURE() << "the exception was swallowed";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "changed my mind");
    }
    EXPECT_EQ(co_await count_rows(*db), 0);
    auto violates = [](Transaction& tx) -> Task<void> {
      co_await tx.exec("INSERT INTO t VALUES(?)", params(5));
      co_await tx.exec("INSERT INTO t VALUES(?)", params(5));  // UNIQUE: throws db::Error
    };
    try {
      co_await db->transaction(violates);
      ADD_FAILURE() << "no constraint error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::constraint);
    }
    EXPECT_EQ(co_await count_rows(*db), 0);
    EXPECT_EQ(db->stats().rollbacks, 2u);
    co_await db->exec("INSERT INTO t VALUES(?)", params(9));  // the writer is free again
    EXPECT_EQ(co_await count_rows(*db), 1);
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

// SQLite only: PostgreSQL runs other writes concurrently with a transaction (pool_size > 1).
TEST(DbSqliteTransaction, ReadersSeeTheLastCommitWhileWritesWait) {
  TempDir dir;
  Loop loop;
  auto db = open(loop, dir.url());
  std::vector<std::string> order;
  run(loop, [&]() -> Task<void> {
    co_await db->exec("CREATE TABLE t(v)");
    co_await db->exec("INSERT INTO t VALUES('before')");
    std::unique_ptr<Transaction> tx = co_await db->begin();
    co_await tx->exec("INSERT INTO t VALUES('inside')");
    // A write issued now waits for the transaction; it completes after the commit.
    db->exec("INSERT INTO t VALUES('after')", {}, [&](Outcome<ResultSet>& r) {
      EXPECT_TRUE(r.ok()) << r.what();
      order.push_back("outside write");
    });
    // A read is not blocked (WAL) and sees the last committed state only.
    EXPECT_EQ(co_await count_rows(*db), 1);
    ResultSet mine = co_await tx->query("SELECT count(*) FROM t");
    EXPECT_EQ(mine.front()[0].as_int(), 2);
    order.push_back("commit");
    co_await tx->commit();
    EXPECT_TRUE(tx->finished());
    co_await db->ready();  // queued behind the outside write
    EXPECT_EQ(co_await count_rows(*db), 3);
    co_await db->close();
  }());
  EXPECT_EQ(order, (std::vector<std::string>{"commit", "outside write"}));
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST_P(DbTransaction, DroppedUnfinishedIsRolledBack) {
  Loop loop;
  auto db = open(loop, url());
  run(loop, [&]() -> Task<void> {
    co_await db->exec("CREATE TABLE t(v INTEGER)");
    {
      std::unique_ptr<Transaction> tx = co_await db->begin();
      co_await tx->exec("INSERT INTO t VALUES(1)");
    }  // destroyed without commit
    EXPECT_EQ(co_await count_rows(*db), 0);
    co_await db->exec("INSERT INTO t VALUES(2)");
    EXPECT_EQ(co_await count_rows(*db), 1);
    std::unique_ptr<Transaction> tx = co_await db->begin();
    co_await tx->rollback();
    try {
      co_await tx->exec("INSERT INTO t VALUES(3)");
      ADD_FAILURE() << "a finished transaction accepted a statement";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::misuse);
    }
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST_P(DbTransaction, CallbackForms) {
  Loop loop;
  auto db = open(loop, url());
  std::vector<std::string> events;
  db->exec("CREATE TABLE t(v INTEGER)", {}, [](Outcome<ResultSet>& r) { EXPECT_TRUE(r.ok()); });
  db->transaction(
      [&](Transaction& tx, TransactionDone done) {
        tx.exec("INSERT INTO t VALUES(1)", {},
                [done = std::move(done)](Outcome<ResultSet>& r) mutable {
                  done(r.ok() ? nullptr : std::make_exception_ptr(r.failure()));
                });
      },
      [&](Outcome<void>& r) {
        EXPECT_TRUE(r.ok()) << r.what();
        events.push_back("committed");
      });
  db->transaction(
      [&](Transaction& tx, TransactionDone) {
        tx.exec("INSERT INTO t VALUES(2)", {}, [](Outcome<ResultSet>&) {});
        throw std::runtime_error("body failed");
      },
      [&](Outcome<void>& r) {
        EXPECT_FALSE(r.ok());
        EXPECT_NE(std::string(r.what()).find("body failed"), std::string::npos) << r.what();
        events.push_back("rolled back");
      });
  db->query("SELECT v FROM t", {}, [&](Outcome<ResultSet>&) {});
  loop.run();
  // PostgreSQL runs the two transactions concurrently, on two connections.
  if (pg()) std::sort(events.begin(), events.end());
  EXPECT_EQ(events, (std::vector<std::string>{"committed", "rolled back"}));
  run(loop, [&]() -> Task<void> {
    EXPECT_EQ(co_await count_rows(*db), 1);
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::db
