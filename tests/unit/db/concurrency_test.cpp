// Ordering and concurrency: writes keep submission order, reads run concurrently with
// writes, and no SQLite call ever runs on the loop thread.
#include "db_test_util.hpp"

#include <weft/db/sqlite.hpp>

#include <sqlite3.h>

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

namespace weft::db {
namespace {

using testing::run;
using testing::TempDir;

class DbConcurrency : public testing::DbBackendTest {};
WEFT_DB_BOTH_BACKENDS(DbConcurrency);

TEST_P(DbConcurrency, ThousandConcurrentInsertsKeepSubmissionOrder) {
  Loop loop;
  Options opts;
  opts.sqlite.synchronous = Synchronous::normal;  // order, not durability, is under test
  auto db = open(loop, url(), opts);
  constexpr int kWrites = 1000;
  std::vector<int> completed;
  int failures = 0;
  db->exec(std::string("CREATE TABLE t(id ") + serial_key() + ", seq INTEGER)", {},
           [](Outcome<ResultSet>& r) { EXPECT_TRUE(r.ok()) << r.what(); });
  for (int i = 0; i < kWrites; ++i) {
    db->query("INSERT INTO t(seq) VALUES(?)", {i}, [&, i](Outcome<ResultSet>& r) {
      if (!r.ok()) {
        ++failures;
        ADD_FAILURE() << r.what();  // SQLITE_BUSY included
      }
      completed.push_back(i);
    });
  }
  EXPECT_GE(db->stats().queued_writes, static_cast<std::size_t>(kWrites));
  loop.run();
  EXPECT_EQ(failures, 0);
  ASSERT_EQ(completed.size(), static_cast<std::size_t>(kWrites));
  for (int i = 0; i < kWrites; ++i) ASSERT_EQ(completed[static_cast<std::size_t>(i)], i);
  run(loop, [&]() -> Task<void> {
    ResultSet rs = co_await db->query("SELECT seq FROM t ORDER BY id");
    EXPECT_EQ(rs.size(), static_cast<std::size_t>(kWrites));
    for (std::size_t i = 0; i < rs.size(); ++i) {
      if (rs[i][0].as_int() != static_cast<std::int64_t>(i)) {
        ADD_FAILURE() << "row " << i << " holds " << rs[i][0].as_int();
        break;
      }
    }
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

Task<void> reader(Database& db, int rounds, int& ok) {
  for (int i = 0; i < rounds; ++i) {
    ResultSet rs = co_await db.query("SELECT count(*), max(seq) FROM t");
    if (rs.size() == 1) ++ok;
  }
}

Task<void> writer(Database& db, int rounds, int& ok) {
  for (int i = 0; i < rounds; ++i) {
    co_await db.query("INSERT INTO t(seq) VALUES(?)", params(i));
    ++ok;
  }
}

TEST_P(DbConcurrency, ReadsRunConcurrentlyWithWrites) {
  Loop loop;
  auto db = open(loop, url());
  testing::wait(loop,
                db->exec(std::string("CREATE TABLE t(id ") + serial_key() + ", seq INTEGER)"));
  int reads = 0;
  int writes = 0;
  for (int r = 0; r < 8; ++r) spawn(loop, reader(*db, 40, reads));
  for (int w = 0; w < 2; ++w) spawn(loop, writer(*db, 50, writes));
  loop.run();
  EXPECT_EQ(reads, 8 * 40);
  EXPECT_EQ(writes, 2 * 50);
  Stats s = db->stats();
  EXPECT_GE(s.reads, 8u * 40u);
  EXPECT_GE(s.connections_opened, 2u);  // the writer and at least one reader
  run(loop, [&]() -> Task<void> { co_await db->close(); }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

// Records the thread of every call of the SQL function probe().
struct ThreadLog {
  std::mutex mu;
  std::set<std::thread::id> sql_threads;
  std::set<std::thread::id> connect_threads;
};

void probe(sqlite3_context* ctx, int, sqlite3_value**) {
  auto* log = static_cast<ThreadLog*>(sqlite3_user_data(ctx));
  {
    std::lock_guard lock(log->mu);
    log->sql_threads.insert(std::this_thread::get_id());
  }
  sqlite3_result_int(ctx, 1);
}

TEST(DbSqliteConcurrency, SqliteNeverRunsOnTheLoopThread) {
  TempDir dir;
  Loop loop;
  ThreadLog log;
  Options opts;
  opts.sqlite.on_connect = sqlite::on_connect([&log](sqlite3* conn) {
    {
      std::lock_guard lock(log.mu);
      log.connect_threads.insert(std::this_thread::get_id());
    }
    sqlite3_create_function(conn, "probe", 0, SQLITE_UTF8, &log, probe, nullptr, nullptr);
  });
  auto db = open(loop, dir.url(), opts);
  run(loop, [&]() -> Task<void> {
    co_await db->exec("CREATE TABLE t(v)");
    co_await db->query("INSERT INTO t VALUES(probe())");
    for (int i = 0; i < 20; ++i) co_await db->query("SELECT probe() FROM t");
    auto body = [](Transaction& tx) -> Task<void> {
      co_await tx.exec("INSERT INTO t VALUES(probe())");
      co_await tx.query("SELECT probe()");
    };
    co_await db->transaction(body);
    co_await db->close();
  }());
  const auto loop_thread = std::this_thread::get_id();
  std::lock_guard lock(log.mu);
  EXPECT_FALSE(log.sql_threads.empty());
  EXPECT_EQ(log.sql_threads.count(loop_thread), 0u) << "a statement ran on the loop thread";
  EXPECT_FALSE(log.connect_threads.empty());
  EXPECT_EQ(log.connect_threads.count(loop_thread), 0u)
      << "a connection was opened on the loop thread";
  db.reset();
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::db
