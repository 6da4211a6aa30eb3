// PostgreSQL only: types, `?` rewriting, SQLSTATE mapping, pipelining on one connection,
// reconnect after pg_terminate_backend, the query timeout, cancellation on destroy, no
// thread used, a refused connection. Each test uses a fresh schema of the shared server.
#include "db/sql_lexer.hpp"
#include "db_test_util.hpp"

#include <weft/net/dns.hpp>

#include <weft/pool.hpp>
#include <weft/timer.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <thread>

namespace weft::db {
namespace {

using testing::run;
using testing::wait;
using weft::testing::shared_pg_server;

std::string fresh_url() { return shared_pg_server().fresh_schema_url(); }

TEST(DbPgSql, RewritesQuestionMarksOutsideLiterals) {
  int n = 0;
  EXPECT_EQ(sql::to_dollar_params("SELECT ?, '?', \"a?\", ? -- ?\n/* ? /* ? */ ? */ , ?", n),
            "SELECT $1, '?', \"a?\", $2 -- ?\n/* ? /* ? */ ? */ , $3");
  EXPECT_EQ(n, 3);
  EXPECT_EQ(sql::to_dollar_params("SELECT $$ ? $$, $x$ ?; $x$, E'\\' ?', arr[?], ?::jsonb", n),
            "SELECT $$ ? $$, $x$ ?; $x$, E'\\' ?', arr[$1], $2::jsonb");
  EXPECT_EQ(n, 2);
  EXPECT_EQ(sql::to_dollar_params("SELECT ?2, ?1, ?", n), "SELECT $2, $1, $3");
  EXPECT_EQ(n, 3);
  EXPECT_EQ(sql::classify(
                "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql",
                sql::Dialect::postgres)
                .statements,
            1);
  EXPECT_EQ(sql::classify("START TRANSACTION", sql::Dialect::postgres).kind,
            sql::Kind::transaction_control);
}

TEST(DbPg, TypesMapByColumnType) {
  Loop loop;
  auto db = open(loop, fresh_url());
  EXPECT_EQ(db->backend(), "postgres");
  run(loop, [&]() -> Task<void> {
    ResultSet rs = co_await db->query(
        "SELECT 1::int2 AS a, 2::int4 AS b, 9223372036854775807::int8 AS c, true AS d, "
        "1.5::float4 AS e, 0.1::float8 AS f, 2.25::numeric AS g, 'x'::varchar AS h, "
        "'{\"k\": 1}'::jsonb AS i, '\\x00ff'::bytea AS j, NULL::int AS k, '2024-01-02'::date AS l");
    const Row& r = rs.front();
    EXPECT_EQ(r["a"], Value(1));
    EXPECT_EQ(r["b"], Value(2));
    EXPECT_EQ(r["c"], Value(std::numeric_limits<std::int64_t>::max()));
    EXPECT_EQ(r["d"], Value(1));
    EXPECT_EQ(r["e"], Value(1.5));
    EXPECT_EQ(r["f"], Value(0.1));
    EXPECT_EQ(r["g"], Value(2.25));
    EXPECT_EQ(r["h"], Value("x"));
    EXPECT_EQ(r["i"], Value("{\"k\": 1}"));  // jsonb comes back as text
    EXPECT_EQ(r["j"], Value(Blob::from(std::string("\x00\xff", 2))));
    EXPECT_TRUE(r["k"].is_null());
    EXPECT_EQ(r["l"], Value("2024-01-02"));
    co_await db->exec("CREATE TABLE docs(id BIGSERIAL PRIMARY KEY, body JSONB NOT NULL)");
    ResultSet ins =
        co_await db->query("INSERT INTO docs(body) VALUES(?::jsonb), (?::jsonb) RETURNING id",
                           params("{\"name\": \"ann\"}", "{\"name\": \"bob\"}"));
    EXPECT_EQ(ins.rows_affected, 2);
    EXPECT_EQ(ins.size(), 2u);
    ResultSet sel =
        co_await db->query("SELECT body->>'name' AS n, body FROM docs WHERE body @> ?::jsonb",
                           params("{\"name\": \"bob\"}"));
    EXPECT_EQ(sel.size(), 1u);
    if (sel.size() != 1) co_return;
    EXPECT_EQ(sel.front()["n"].as_text(), "bob");
    EXPECT_EQ(sel.front()["body"].as_text(), "{\"name\": \"bob\"}");
    // A NULL parameter has no type: cast it where the server cannot infer one.
    ResultSet typed =
        co_await db->query("SELECT ? + ? AS s, ? * 2.0 AS d, ?::text AS t, ?::int IS NULL AS n",
                           params(40, 2, 1.25, "t", nullptr));
    EXPECT_EQ(typed.front()["s"].as_int(), 42);
    EXPECT_EQ(typed.front()["d"].as_double(), 2.5);
    EXPECT_EQ(typed.front()["t"].as_text(), "t");
    EXPECT_EQ(typed.front()["n"].as_int(), 1);
    try {
      co_await db->query("SELECT ?::text", params(std::string("a\0b", 3)));
      ADD_FAILURE() << "a NUL byte in text was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::mismatch);
    }
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST(DbPg, ErrorsCarrySqlstateAndTheServersMessage) {
  Loop loop;
  auto db = open(loop, fresh_url());
  run(loop, [&]() -> Task<void> {
    co_await db->exec("CREATE TABLE u(email TEXT UNIQUE NOT NULL)");
    co_await db->query("INSERT INTO u VALUES(?)", params("a@x"));
    try {
      co_await db->query("INSERT INTO u VALUES(?)", params("a@x"));
      ADD_FAILURE() << "no constraint violation";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::constraint);
      EXPECT_EQ(e.backend_code(), sqlstate_code("23505"));
      EXPECT_NE(std::string(e.what()).find("duplicate key value violates unique constraint"),
                std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("SQLSTATE 23505"), std::string::npos) << e.what();
    }
    try {
      co_await db->query("SELECT nope FROM missing");
      ADD_FAILURE();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::sql_error);
      EXPECT_NE(std::string(e.what()).find("relation \"missing\" does not exist"),
                std::string::npos)
          << e.what();
    }
    try {
      co_await db->exec("START TRANSACTION");
      ADD_FAILURE();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::misuse);
    }
    // The same failing statement twice: its failed Parse must not poison the cache.
    for (int i = 0; i < 2; ++i) {
      try {
        co_await db->query("SELEC ?", params(1));
        ADD_FAILURE();
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), errc::sql_error);
        EXPECT_NE(std::string(e.what()).find("syntax error"), std::string::npos) << e.what();
      }
    }
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST(DbPg, ScriptsRunAndThePipelineResumesAfterThem) {
  Loop loop;
  auto db = open(loop, fresh_url());
  int done = 0;
  db->exec(
      "CREATE TABLE a(x INT); INSERT INTO a VALUES(1); INSERT INTO a VALUES(2); SELECT sum(x) AS s "
      "FROM a",
      {}, [&](Outcome<ResultSet>& r) {
        ASSERT_TRUE(r.ok()) << r.what();
        EXPECT_EQ(r->front()["s"].as_int(), 3);
        EXPECT_EQ(done++, 0);
      });
  db->exec("INSERT INTO a VALUES(?)", {4}, [&](Outcome<ResultSet>& r) {
    EXPECT_TRUE(r.ok()) << r.what();
    EXPECT_EQ(done++, 1);
  });
  db->exec("SELECT count(*) FROM a", {}, [&](Outcome<ResultSet>& r) {
    ASSERT_TRUE(r.ok()) << r.what();
    EXPECT_EQ(r->front()[0].as_int(), 3);
    EXPECT_EQ(done++, 2);
  });
  loop.run();
  EXPECT_EQ(done, 3);
  wait(loop, db->close());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST(DbPg, StatementsPreparedBeforeAnAlterTableStillWork) {
  Loop loop;
  Options opts;
  opts.postgres.pool_size = 2;  // one writer, one reader
  auto db = open(loop, fresh_url(), opts);
  run(loop, [&]() -> Task<void> {
    co_await db->exec("CREATE TABLE t(a INT)");
    co_await db->exec("INSERT INTO t VALUES(1)");
    ResultSet r1 = co_await db->query("SELECT * FROM t");  // prepared on the reader
    ResultSet w1 = co_await db->exec("SELECT * FROM t");   // and on the writer
    EXPECT_EQ(r1.columns->size(), 1u);
    co_await db->exec("ALTER TABLE t ADD COLUMN b INT DEFAULT 2");
    ResultSet r2 = co_await db->query("SELECT * FROM t");  // a read is prepared again
    EXPECT_EQ(r2.columns->size(), 2u);
    try {
      co_await db->exec("SELECT * FROM t");  // a write-lane statement fails once...
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cached plan"), std::string::npos) << e.what();
    }
    ResultSet w2 = co_await db->exec("SELECT * FROM t");  // ...then is prepared again
    EXPECT_EQ(w2.columns->size(), 2u);
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST(DbPg, ManyConcurrentQueriesSharePipelinedConnection) {
  Loop loop;
  Options opts;
  opts.postgres.pool_size = 1;
  auto db = open(loop, fresh_url(), opts);
  constexpr int kQueries = 300;
  std::vector<int> order;
  for (int i = 0; i < kQueries; ++i) {
    db->query("SELECT ?::int8 AS v", {i}, [&, i](Outcome<ResultSet>& r) {
      ASSERT_TRUE(r.ok()) << r.what();
      EXPECT_EQ(r->front()["v"].as_int(), i);
      order.push_back(i);
    });
  }
  loop.run();
  ASSERT_EQ(order.size(), static_cast<std::size_t>(kQueries));
  for (int i = 0; i < kQueries; ++i) ASSERT_EQ(order[static_cast<std::size_t>(i)], i);
  Stats s = db->stats();
  EXPECT_EQ(s.connections_opened, 1u);
  EXPECT_GT(s.max_pipeline_depth, 10u) << "the queries were not pipelined";
  EXPECT_EQ(s.prepares, 1u);
  EXPECT_EQ(s.statement_cache_hits, static_cast<std::uint64_t>(kQueries - 1));
  wait(loop, db->close());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST(DbPg, ReconnectsAfterTheBackendIsTerminated) {
  Loop loop;
  Options opts;
  opts.postgres.pool_size = 1;
  auto db = open(loop, fresh_url(), opts);
  std::string pid = run(loop, [&]() -> Task<std::string> {
    ResultSet rs = co_await db->query("SELECT pg_backend_pid()::text");
    co_return rs.front()[0].as_text();
  }());
  std::optional<Outcome<ResultSet>> in_flight;
  db->exec("SELECT pg_sleep(10)", {},
           [&](Outcome<ResultSet>& r) { in_flight.emplace(std::move(r)); });
  Timer killer(loop);
  killer.start([&] { shared_pg_server().admin_query("SELECT pg_terminate_backend(" + pid + ")"); },
               std::chrono::milliseconds(100));
  auto t0 = std::chrono::steady_clock::now();
  loop.run();
  ASSERT_TRUE(in_flight.has_value());
  EXPECT_EQ(in_flight->error(), errc::connection_lost) << in_flight->what();
  EXPECT_NE(std::string(in_flight->what()).find("was lost"), std::string::npos)
      << in_flight->what();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  std::string pid2 = run(loop, [&]() -> Task<std::string> {
    ResultSet rs = co_await db->query("SELECT pg_backend_pid()::text");
    co_return rs.front()[0].as_text();
  }());
  EXPECT_NE(pid2, pid);
  Stats s = db->stats();
  EXPECT_EQ(s.connections_lost, 1u);
  EXPECT_EQ(s.connections_opened, 2u);
  wait(loop, db->close());
  db.reset();
  killer.close();
  loop.run();
  weft::testing::expect_clean_close(loop);
}

TEST(DbPg, QueryTimeoutFailsTheStatementAndKeepsTheConnection) {
  Loop loop;
  Options opts;
  opts.postgres.pool_size = 1;
  opts.postgres.query_timeout = std::chrono::milliseconds(100);
  auto db = open(loop, fresh_url(), opts);
  wait(loop, db->ready());
  auto t0 = std::chrono::steady_clock::now();
  try {
    wait(loop, db->query("SELECT pg_sleep(5)"));
    ADD_FAILURE() << "no timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), std::errc::timed_out) << e.what();
    EXPECT_NE(std::string(e.what()).find("query timeout (100 ms)"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  ResultSet rs = wait(loop, db->query("SELECT 7"));
  EXPECT_EQ(rs.front()[0].as_int(), 7);
  Stats s = db->stats();
  EXPECT_EQ(s.connections_opened, 1u);
  EXPECT_EQ(s.connections_lost, 0u);
  wait(loop, db->close());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST(DbPg, DestroyCancelsTheRunningStatementAndTheQueuedOnes) {
  Loop loop;
  Options opts;
  opts.postgres.pool_size = 1;
  opts.postgres.pipeline_depth = 1;  // the rest wait, unsent
  auto db = open(loop, fresh_url(), opts);
  wait(loop, db->ready());
  int canceled = 0;
  int calls = 0;
  auto count = [&](Outcome<ResultSet>& r) {
    ++calls;
    EXPECT_EQ(r.error(), std::errc::operation_canceled) << r.what();
    if (r.error() == std::errc::operation_canceled) ++canceled;
  };
  db->exec("SELECT pg_sleep(10)", {}, count);
  for (int i = 0; i < 5; ++i) db->exec("SELECT ?::int", {i}, count);
  Timer destroy(loop);
  destroy.start([&] { db.reset(); }, std::chrono::milliseconds(100));
  auto t0 = std::chrono::steady_clock::now();
  loop.run();
  EXPECT_EQ(calls, 6);
  EXPECT_EQ(canceled, 6);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  destroy.close();
  loop.run();
  weft::testing::expect_clean_close(loop);
}

TEST(DbPg, RunsOnTheLoopThreadWithoutPoolJobs) {
  Loop loop;
  auto db = open(loop, fresh_url());
  const auto loop_thread = std::this_thread::get_id();
  const std::uint64_t slow_before = loop.runtime().stats(WorkClass::slow).completed;
  int calls = 0;
  auto check = [&](Outcome<ResultSet>& r) {
    EXPECT_TRUE(r.ok()) << r.what();
    EXPECT_EQ(std::this_thread::get_id(), loop_thread);
    ++calls;
  };
  wait(loop, db->exec("CREATE TABLE t(v INT)"));
  for (int i = 0; i < 21; ++i) db->query("INSERT INTO t VALUES(?)", {i}, check);
  for (int i = 0; i < 20; ++i) db->query("SELECT count(*) FROM t", {}, check);
  db->transaction(
      [&](Transaction& tx, TransactionDone done) {
        tx.exec("INSERT INTO t VALUES(100)", {},
                [done = std::move(done)](Outcome<ResultSet>& r) mutable {
                  done(r.ok() ? nullptr : std::make_exception_ptr(r.failure()));
                });
      },
      [&](Outcome<void>& r) {
        EXPECT_TRUE(r.ok()) << r.what();
        EXPECT_EQ(std::this_thread::get_id(), loop_thread);
        ++calls;
      });
  loop.run();
  EXPECT_EQ(calls, 42);
  EXPECT_EQ(loop.runtime().stats(WorkClass::slow).completed, slow_before) << "a pool job ran";
  EXPECT_GE(db->stats().connections_opened, 2u);  // reads went to other connections
  wait(loop, db->close());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST(DbPg, RefusedConnectionNamesHostAndPort) {
  Loop loop;
  // A port nobody listens on: the shared server's, plus one, is unlikely to be taken.
  const std::string port = std::to_string(shared_pg_server().port() + 1);
  auto db = open(loop, "postgres://postgres@127.0.0.1:" + port + "/postgres");
  try {
    wait(loop, db->ready());
    ADD_FAILURE() << "connected to a closed port";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::cant_open);
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + port), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("refused"), std::string::npos) << e.what();
  }
  try {
    wait(loop, db->query("SELECT 1"));  // each statement tries again
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::cant_open);
  }
  EXPECT_THROW((void)open(loop, "postgres://x@h/db?nosuchoption=1"), Error);
  db.reset();
  weft::testing::expect_clean_close(loop);
}

TEST(DbPg, HostNamesAreResolvedByNetsResolverOnThePool) {
  Loop loop;
  const std::uint64_t slow_before = loop.runtime().stats(WorkClass::slow).completed;
  // localhost may resolve to ::1 first; the server listens on 127.0.0.1 only: libpq
  // gets every address and tries them in turn.
  auto db =
      open(loop, "postgres://postgres@localhost:" + std::to_string(shared_pg_server().port()) +
                     "/postgres");
  ResultSet rs = wait(loop, db->query("SELECT 5"));
  EXPECT_EQ(rs.front()[0].as_int(), 5);
  EXPECT_GE(loop.runtime().stats(WorkClass::slow).completed - slow_before, 1u)
      << "no lookup on the pool";
  // Through net's resolver of this loop: the answer is in its cache, shared with the next
  // database (or HTTP client) on the loop, which then does no lookup of its own.
  EXPECT_EQ(weft::net::default_resolver(loop).cache_size(), 1u);
  const std::uint64_t slow_after = loop.runtime().stats(WorkClass::slow).completed;
  auto again =
      open(loop, "postgres://postgres@localhost:" + std::to_string(shared_pg_server().port()) +
                     "/postgres");
  EXPECT_EQ(wait(loop, again->query("SELECT 6")).front()[0].as_int(), 6);
  EXPECT_EQ(loop.runtime().stats(WorkClass::slow).completed, slow_after) << "looked up again";
  wait(loop, again->close());
  again.reset();
  wait(loop, db->close());
  db.reset();
  auto bad = open(loop, "postgres://postgres@no-such-host.invalid/postgres");
  try {
    wait(loop, bad->ready());
    ADD_FAILURE() << "an unknown host was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::cant_open);
    EXPECT_NE(std::string(e.what()).find("cannot resolve host \"no-such-host.invalid\""),
              std::string::npos)
        << e.what();
  }
  bad.reset();
  // The first database may have started a second connection whose lookup is still on the
  // pool (a lookup cannot be taken back): its completion is owed to the loop, as in libuv.
  loop.run();
  weft::testing::expect_clean_close(loop);
}

TEST(DbPg, TransactionsRunConcurrentlyOnTheirOwnConnections) {
  Loop loop;
  auto db = open(loop, fresh_url());
  wait(loop, db->exec("CREATE TABLE t(v INT)"));
  int committed = 0;
  auto body = [&](int v) -> Task<void> {
    co_await db->transaction([v](Transaction& tx) -> Task<void> {
      co_await tx.exec("INSERT INTO t VALUES(?)", params(v));
      co_await tx.query("SELECT pg_sleep(0.05)");
    });
    ++committed;
  };
  spawn(loop, body(1));
  spawn(loop, body(2));
  spawn(loop, body(3));
  loop.run();
  EXPECT_EQ(committed, 3);
  Stats s = db->stats();
  EXPECT_EQ(s.commits, 3u);
  EXPECT_GE(s.connections_opened, 4u);  // the writer and one per transaction
  run(loop, [&]() -> Task<void> {
    // A failed statement aborts the transaction: commit() reports it (errc::abort).
    std::unique_ptr<Transaction> tx = co_await db->begin();
    try {
      co_await tx->exec("INSERT INTO nope VALUES(1)");
    } catch (const Error&) {
    }
    try {
      co_await tx->query("SELECT 1");
      ADD_FAILURE();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::abort) << e.what();
    }
    try {
      co_await tx->commit();
      ADD_FAILURE() << "commit of an aborted transaction succeeded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::abort) << e.what();
    }
    ResultSet rs = co_await db->query("SELECT count(*) FROM t");
    EXPECT_EQ(rs.front()[0].as_int(), 3);
    co_await db->close();
  }());
  db.reset();
  weft::testing::expect_clean_close(loop);
}

}  // namespace
}  // namespace weft::db
