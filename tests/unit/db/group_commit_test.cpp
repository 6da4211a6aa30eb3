// Group commit on SQLite's writer lane (GroupCommit in database.hpp): writes that queue
// while a commit runs share the next transaction, each in its own savepoint; a failure
// stays with its write; every write is acknowledged only after its group's COMMIT.
//
// Groups are made deterministic by submitting in one loop turn: the first write starts
// alone at once (the writer was idle), the others queue behind it and form the next group.
#include "db_test_util.hpp"

#include <weft/db/sqlite.hpp>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <string>
#include <vector>

namespace weft::db {
namespace {

using testing::count_rows;
using testing::inserts;
using testing::run;
using testing::submit_all;
using testing::Submitted;
using testing::TempDir;

std::unique_ptr<Database> open_table(Loop& loop, const std::string& url, Options o = {}) {
  auto db = run(loop, open_async(loop, url, std::move(o)));
  testing::wait(loop, db->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)"));
  return db;
}

TEST(DbGroupCommit, QueuedWritesShareOneCommit) {
  TempDir dir;
  Loop loop;
  auto db = open_table(loop, dir.url());
  const Stats before = db->stats();
  Submitted s = submit_all(loop, *db, inserts(11));
  for (std::size_t i = 0; i < s.outs.size(); ++i) {
    ASSERT_TRUE(s.outs[i]->ok()) << i << ": " << s.outs[i]->failure().what();
    EXPECT_EQ(s.outs[i]->value().rows_affected, 1);
    EXPECT_EQ(s.outs[i]->value().last_insert_id, static_cast<std::int64_t>(i + 1));
  }
  std::vector<int> expected(11);
  for (int i = 0; i < 11; ++i) expected[i] = i;
  EXPECT_EQ(s.order, expected);  // completions in submission order
  const Stats after = db->stats();
  EXPECT_EQ(after.groups - before.groups, 2u);  // the lone first one, then the other ten
  EXPECT_EQ(after.grouped_writes - before.grouped_writes, 11u);
  EXPECT_EQ(after.group_size.max(), 10u);
  EXPECT_EQ(after.commit_ns.count(), after.groups);
  EXPECT_EQ(count_rows(loop, *db), 11);
  run(loop, [&]() -> Task<void> { co_await db->close(); }());
}

TEST(DbGroupCommit, AConstraintViolationFailsAlone) {
  TempDir dir;
  Loop loop;
  auto db = open_table(loop, dir.url());
  auto stmts = inserts(10);
  stmts[5].second = params(6, "v2");     // UNIQUE(v): v2 is taken by write 2
  stmts[7].second = params(8, Value());  // NOT NULL
  stmts.push_back({"UPDATE t SET v = 'z' || v WHERE id <= 3", {}});  // sees 1..3, not 6
  Submitted s = submit_all(loop, *db, stmts);
  for (std::size_t i = 0; i < s.outs.size(); ++i) {
    if (i == 5 || i == 7) {
      ASSERT_FALSE(s.outs[i]->ok()) << i;
      EXPECT_EQ(s.outs[i]->failure().code(), errc::constraint) << i;
      continue;
    }
    ASSERT_TRUE(s.outs[i]->ok()) << i << ": " << s.outs[i]->failure().what();
  }
  EXPECT_EQ(s.outs[10]->value().rows_affected, 3);
  EXPECT_EQ(s.outs[8]->value().last_insert_id, 9);
  EXPECT_GE(db->stats().group_size.max(), 9u);  // they did share a group
  auto rs = testing::wait(loop, db->query("SELECT id, v FROM t ORDER BY id"));
  ASSERT_EQ(rs.size(), 8u);
  EXPECT_EQ(rs[0][1].as_text(), "zv1");
  EXPECT_EQ(rs[4][0].as_int(), 5);
  EXPECT_EQ(rs[5][0].as_int(), 7);
  EXPECT_EQ(rs[5][1].as_text(), "v7");
  run(loop, [&]() -> Task<void> { co_await db->close(); }());
}

// RAISE(ROLLBACK) rolls the whole transaction back: the group runs again without that
// write, and its neighbours are still stored, with the right results.
TEST(DbGroupCommit, AWriteThatAbortsTheTransactionFailsAlone) {
  TempDir dir;
  Loop loop;
  auto db = open_table(loop, dir.url());
  testing::wait(loop, db->exec("CREATE TRIGGER no_13 BEFORE INSERT ON t WHEN NEW.id = 13 "
                               "BEGIN SELECT RAISE(ROLLBACK, 'thirteen'); END"));
  auto stmts = inserts(20);
  Submitted s = submit_all(loop, *db, stmts);
  for (std::size_t i = 0; i < s.outs.size(); ++i) {
    if (i == 12) {
      ASSERT_FALSE(s.outs[i]->ok());
      EXPECT_NE(std::string(s.outs[i]->failure().what()).find("thirteen"), std::string::npos);
      continue;
    }
    ASSERT_TRUE(s.outs[i]->ok()) << i << ": " << s.outs[i]->failure().what();
    EXPECT_EQ(s.outs[i]->value().last_insert_id, static_cast<std::int64_t>(i + 1));
  }
  EXPECT_EQ(count_rows(loop, *db), 19);
  run(loop, [&]() -> Task<void> { co_await db->close(); }());
}

// A group is acknowledged only after its COMMIT: when the COMMIT fails (a commit hook
// vetoes it), every write of the group fails and none is stored.
// Armed: lets `commits_to_pass` commits through, then vetoes the next one and disarms.
std::atomic<bool> veto_armed{false};
std::atomic<int> commits_to_pass{0};
int commit_hook(void*) {
  if (!veto_armed.load()) return 0;
  if (commits_to_pass.fetch_sub(1) > 0) return 0;
  veto_armed = false;
  return 1;
}

TEST(DbGroupCommit, AFailedCommitFailsTheWholeGroup) {
  TempDir dir;
  Loop loop;
  Options o;
  o.sqlite.on_connect =
      sqlite::on_connect([](sqlite3* c) { sqlite3_commit_hook(c, &commit_hook, nullptr); });
  auto db = open_table(loop, dir.url(), o);
  auto stmts = inserts(6);
  // The first (lone) write commits; the hook then vetoes the group of the other five.
  commits_to_pass = 1;
  veto_armed = true;
  bool first_ok = false;
  db->exec(stmts[0].first, stmts[0].second, [&](Outcome<ResultSet>& r) { first_ok = r.ok(); });
  // Queued behind it in the same turn: they run as one group after its completion.
  Submitted rest;
  rest.outs.resize(5);
  for (int i = 1; i < 6; ++i) {
    db->exec(stmts[i].first, stmts[i].second,
             [&rest, i](Outcome<ResultSet>& r) { rest.outs[i - 1].emplace(std::move(r)); });
  }
  loop.run();
  EXPECT_TRUE(first_ok);
  EXPECT_FALSE(veto_armed.load());
  EXPECT_EQ(db->stats().group_size.max(), 5u);
  for (auto& out : rest.outs) {
    ASSERT_TRUE(out.has_value());
    EXPECT_FALSE(out->ok());
  }
  EXPECT_EQ(count_rows(loop, *db), 1);
  run(loop, [&]() -> Task<void> { co_await db->close(); }());
}

TEST(DbGroupCommit, DisabledRunsEveryWriteAlone) {
  TempDir dir;
  Loop loop;
  Options o;
  o.group_commit.enabled = false;
  auto db = open_table(loop, dir.url(), o);
  Submitted s = submit_all(loop, *db, inserts(8));
  for (auto& out : s.outs) ASSERT_TRUE(out->ok());
  EXPECT_EQ(db->stats().groups, 0u);
  EXPECT_EQ(count_rows(loop, *db), 8);
  run(loop, [&]() -> Task<void> { co_await db->close(); }());
}

// max_size bounds a group; DDL is never grouped and keeps its place in the order.
TEST(DbGroupCommit, GroupsAreBoundedAndKeepTheOrder) {
  TempDir dir;
  Loop loop;
  Options o;
  o.group_commit.max_size = 4;
  auto db = open_table(loop, dir.url(), o);
  auto stmts = inserts(10);
  stmts.insert(stmts.begin() + 6, {"ALTER TABLE t ADD COLUMN w TEXT", {}});
  stmts.push_back({"UPDATE t SET w = 'x' WHERE id = 10", {}});
  Submitted s = submit_all(loop, *db, stmts);
  for (auto& out : s.outs) ASSERT_TRUE(out->ok()) << out->failure().what();
  const Stats st = db->stats();
  EXPECT_EQ(st.group_size.max(), 4u);
  EXPECT_EQ(st.grouped_writes, 11u);  // every insert and the update; not the ALTER
  EXPECT_EQ(testing::wait(loop, db->query("SELECT w FROM t WHERE id = 10")).front()[0].as_text(),
            "x");
  run(loop, [&]() -> Task<void> { co_await db->close(); }());
}

// max_wait: a write that finds the writer idle waits (at most that long) for company.
TEST(DbGroupCommit, MaxWaitGathersAGroup) {
  TempDir dir;
  Loop loop;
  Options o;
  o.group_commit.max_wait = std::chrono::milliseconds(50);
  auto db = open_table(loop, dir.url(), o);
  const Stats before = db->stats();
  Submitted s = submit_all(loop, *db, inserts(5));
  for (auto& out : s.outs) ASSERT_TRUE(out->ok());
  const Stats after = db->stats();
  EXPECT_EQ(after.groups - before.groups, 1u);
  EXPECT_EQ(after.group_size.max(), 5u);
  run(loop, [&]() -> Task<void> { co_await db->close(); }());
}

// Readers are not blocked by a group in progress (WAL): a read issued behind a group of
// writes completes, seeing the last commit.
TEST(DbGroupCommit, ReadsGoOnDuringAGroup) {
  TempDir dir;
  Loop loop;
  auto db = open_table(loop, dir.url());
  int reads = 0;
  for (int i = 0; i < 3; ++i) {
    db->exec("INSERT INTO t(v) VALUES(?)", params("r" + std::to_string(i)),
             [](Outcome<ResultSet>& r) { EXPECT_TRUE(r.ok()); });
  }
  db->query("SELECT count(*) FROM t", {}, [&](Outcome<ResultSet>& r) {
    ASSERT_TRUE(r.ok());
    ++reads;
  });
  loop.run();
  EXPECT_EQ(reads, 1);
  run(loop, [&]() -> Task<void> { co_await db->close(); }());
}

}  // namespace
}  // namespace weft::db
