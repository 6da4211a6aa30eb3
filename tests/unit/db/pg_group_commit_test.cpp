// Group commit on PostgreSQL's writer connection (GroupCommit in database.hpp): writes that
// queue while the writer has something in flight go as one BEGIN ... COMMIT with one sync;
// a failing write is taken out and the rest run again; every write is acknowledged only
// after its group's COMMIT.
//
// Groups are made deterministic by submitting in one loop turn: the first write is sent
// alone at once (nothing was in flight), the others queue behind it and form the next group.
#include "db_test_util.hpp"

#include <weft/timer.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace weft::db {
namespace {

using testing::count_rows;
using testing::inserts;
using testing::run;
using testing::submit_all;
using testing::Submitted;
using testing::wait;
using weft::testing::shared_pg_server;

std::unique_ptr<Database> open_table(Loop& loop, Options o = {}) {
  auto db = run(loop, open_async(loop, shared_pg_server().fresh_schema_url(), std::move(o)));
  wait(loop, db->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE, w TEXT)"));
  return db;
}

void close_db(Loop& loop, std::unique_ptr<Database>& db) {
  run(loop, [&]() -> Task<void> { co_await db->close(); }());
  db.reset();
  loop.run();
}

TEST(DbPgGroupCommit, QueuedWritesShareOneCommit) {
  Loop loop;
  auto db = open_table(loop);
  const Stats before = db->stats();
  Submitted s = submit_all(loop, *db, inserts(11));
  for (std::size_t i = 0; i < s.outs.size(); ++i) {
    ASSERT_TRUE(s.outs[i]->ok()) << i << ": " << s.outs[i]->failure().what();
    EXPECT_EQ(s.outs[i]->value().rows_affected, 1);
  }
  std::vector<int> expected(11);
  for (int i = 0; i < 11; ++i) expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(s.order, expected);  // completions in submission order
  const Stats after = db->stats();
  EXPECT_EQ(after.groups - before.groups, 2u);  // the lone first one, then the other ten
  EXPECT_EQ(after.grouped_writes - before.grouped_writes, 11u);
  EXPECT_EQ(after.group_size.max(), 10u);
  EXPECT_EQ(db->group_stats().group_ns.count(), after.groups);
  EXPECT_EQ(count_rows(loop, *db), 11);
  close_db(loop, db);
  weft::testing::expect_clean_close(loop);
}

// Two writes fail (a unique violation against a neighbour in the same group, a NOT NULL):
// each keeps its own error, the others are stored, and the UPDATE sees exactly the rows
// written before it — never a failed write's.
TEST(DbPgGroupCommit, AConstraintViolationFailsAlone) {
  Loop loop;
  auto db = open_table(loop);
  auto stmts = inserts(10);
  stmts[5].second = params(6, "v2");     // UNIQUE(v): v2 is written by write 2, same group
  stmts[7].second = params(8, Value());  // NOT NULL
  stmts.push_back({"UPDATE t SET w = 'seen' WHERE id <= 8", {}});
  Submitted s = submit_all(loop, *db, stmts);
  for (std::size_t i = 0; i < s.outs.size(); ++i) {
    if (i == 5 || i == 7) {
      ASSERT_FALSE(s.outs[i]->ok()) << i;
      EXPECT_EQ(s.outs[i]->failure().code(), errc::constraint)
          << i << ": " << s.outs[i]->failure().what();
      continue;
    }
    ASSERT_TRUE(s.outs[i]->ok()) << i << ": " << s.outs[i]->failure().what();
  }
  EXPECT_EQ(s.outs[10]->value().rows_affected, 6);  // ids 1..5 and 7
  std::vector<int> expected(11);
  for (int i = 0; i < 11; ++i) expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(s.order, expected);
  EXPECT_GE(db->stats().group_size.max(), 8u);  // they did share groups
  auto rs = wait(loop, db->query("SELECT id, v, w FROM t ORDER BY id"));
  ASSERT_EQ(rs.size(), 8u);
  EXPECT_EQ(rs[4][0].as_int(), 5);
  EXPECT_EQ(rs[5][0].as_int(), 7);
  EXPECT_EQ(rs[5][2].as_text(), "seen");
  EXPECT_TRUE(rs[6][2].is_null());  // id 9: written after the UPDATE
  close_db(loop, db);
  weft::testing::expect_clean_close(loop);
}

// A failed write inside a group must not leave a prepared statement name behind that the
// server never created (its Parse was skipped): the next use of that SQL prepares again.
TEST(DbPgGroupCommit, StatementsSkippedByAFailureArePreparedAgain) {
  Loop loop;
  auto db = open_table(loop);
  std::vector<std::pair<std::string, Params>> stmts = inserts(3);
  stmts[1].second = params(2, Value());  // fails: the third's first Parse is skipped
  stmts.push_back({"UPDATE t SET w = ? WHERE id = ?", params("a", 3)});
  Submitted s = submit_all(loop, *db, stmts);
  EXPECT_FALSE(s.outs[1]->ok());
  EXPECT_TRUE(s.outs[2]->ok()) << s.outs[2]->failure().what();
  EXPECT_TRUE(s.outs[3]->ok()) << s.outs[3]->failure().what();
  Submitted again = submit_all(loop, *db,
                               {{"UPDATE t SET w = ? WHERE id = ?", params("b", 3)},
                                {"UPDATE t SET w = ? WHERE id = ?", params("c", 1)}});
  for (auto& out : again.outs) EXPECT_TRUE(out->ok()) << out->failure().what();
  EXPECT_EQ(wait(loop, db->query("SELECT w FROM t WHERE id = 3")).front()[0].as_text(), "b");
  close_db(loop, db);
  weft::testing::expect_clean_close(loop);
}

TEST(DbPgGroupCommit, DisabledRunsEveryWriteAlone) {
  Loop loop;
  Options o;
  o.group_commit.enabled = false;
  auto db = open_table(loop, o);
  Submitted s = submit_all(loop, *db, inserts(8));
  for (auto& out : s.outs) ASSERT_TRUE(out->ok());
  EXPECT_EQ(db->stats().groups, 0u);
  EXPECT_EQ(count_rows(loop, *db), 8);
  close_db(loop, db);
  weft::testing::expect_clean_close(loop);
}

// max_size bounds a group; DDL is never grouped and keeps its place in the order.
TEST(DbPgGroupCommit, GroupsAreBoundedAndKeepTheOrder) {
  Loop loop;
  Options o;
  o.group_commit.max_size = 4;
  auto db = open_table(loop, o);
  auto stmts = inserts(10);
  stmts.insert(stmts.begin() + 6, {"ALTER TABLE t ADD COLUMN x TEXT", {}});
  stmts.push_back({"UPDATE t SET x = 'x' WHERE id = 10", {}});
  Submitted s = submit_all(loop, *db, stmts);
  for (auto& out : s.outs) ASSERT_TRUE(out->ok()) << out->failure().what();
  const Stats st = db->stats();
  EXPECT_EQ(st.group_size.max(), 4u);
  EXPECT_EQ(st.grouped_writes, 11u);  // every insert and the update; not the ALTER
  EXPECT_EQ(wait(loop, db->query("SELECT x FROM t WHERE id = 10")).front()[0].as_text(), "x");
  close_db(loop, db);
  weft::testing::expect_clean_close(loop);
}

// Destroying the database with a group queued and one in flight: every write's callback
// runs exactly once (stored or refused), nothing is left open.
TEST(DbPgGroupCommit, DestroyWithGroupsInFlightCompletesEveryWrite) {
  Loop loop;
  auto db = open_table(loop);
  std::vector<std::pair<std::string, Params>> stmts;
  for (int i = 1; i <= 20; ++i) {
    stmts.push_back({"INSERT INTO t(id, v) SELECT ?, ? FROM pg_sleep(0.01)",
                     params(i, "s" + std::to_string(i))});
  }
  int called = 0;
  for (auto& st : stmts) db->exec(st.first, st.second, [&](Outcome<ResultSet>&) { ++called; });
  Timer t(loop);
  t.start([&] { db.reset(); }, std::chrono::milliseconds(5));
  loop.run();
  t.close();
  loop.run();
  EXPECT_EQ(called, 20);
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::db
