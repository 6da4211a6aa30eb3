// Helpers shared by the db tests.
#pragma once

#include <weft/db/database.hpp>
#include <weft/db/migrate.hpp>
#include <weft/loop.hpp>
#include <weft/task.hpp>

#include "support/loop_testing.hpp"
#include "support/pg_server.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <ostream>

namespace weft::db::testing {

// A fresh directory under /tmp, removed with its contents at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/weft-db-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string url(const std::string& name = "test.db") const { return "sqlite:" + file(name); }

 private:
  std::string path_;
};

// The suites that run against both backends are value-parameterized over Backend.
enum class Backend { sqlite, postgres };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::sqlite ? "sqlite" : "postgres";
}
inline void PrintTo(Backend b, std::ostream* os) {
  *os << (b == Backend::sqlite ? "sqlite" : "postgres");
}

// One test's database: a file in a fresh directory (SQLite) or a fresh schema in the
// shared test server (PostgreSQL). url() is the same on every call.
class TestDb {
 public:
  explicit TestDb(Backend b)
      : url_(b == Backend::sqlite ? dir_.url()
                                  : weft::testing::shared_pg_server().fresh_schema_url()) {}
  const std::string& url() const noexcept { return url_; }

 private:
  TempDir dir_;
  std::string url_;
};

class DbBackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  bool pg() const { return GetParam() == Backend::postgres; }
  const std::string& url() {
    if (!db_) db_.emplace(GetParam());
    return db_->url();
  }
  // A column type both backends accept for an auto-numbered key.
  const char* serial_key() const { return pg() ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY"; }

 private:
  std::optional<TestDb> db_;
};

#define WEFT_DB_BOTH_BACKENDS(Suite)                                                  \
  INSTANTIATE_TEST_SUITE_P(Db, Suite,                                                 \
                           ::testing::Values(::weft::db::testing::Backend::sqlite,    \
                                             ::weft::db::testing::Backend::postgres), \
                           ::weft::db::testing::backend_name)

// Runs a coroutine to completion on the loop (the loop is run until it finishes).
template <class T>
T run(Loop& loop, Task<T> task) {
  return weft::run_until_complete(loop, std::move(task));
}

// Awaits one operation (an Awaitable) by running the loop.
template <class T>
T wait(Loop& loop, Awaitable<T> a) {
  auto task = [](Awaitable<T> aw) -> Task<T> { co_return co_await std::move(aw); };
  return run(loop, task(std::move(a)));
}

// Runs the loop until nothing is left (e.g. after a Database was destroyed).
inline void drain(Loop& loop) { loop.run(); }

// Group commit tests: statements submitted in one loop turn, their outcomes and the order
// in which they completed.
struct Submitted {
  std::vector<std::optional<Outcome<ResultSet>>> outs;
  std::vector<int> order;  // indexes, in completion order
};

// Submits every statement in the same loop turn and runs the loop until all completed.
inline Submitted submit_all(Loop& loop, Database& db,
                            const std::vector<std::pair<std::string, Params>>& stmts) {
  Submitted s;
  s.outs.resize(stmts.size());
  for (std::size_t i = 0; i < stmts.size(); ++i) {
    db.exec(stmts[i].first, stmts[i].second, [&s, i](Outcome<ResultSet>& r) {
      s.outs[i].emplace(std::move(r));
      s.order.push_back(static_cast<int>(i));
    });
  }
  loop.run();
  return s;
}

// n inserts into t(id, v): (1, "v1"), (2, "v2"), ...
inline std::vector<std::pair<std::string, Params>> inserts(int n) {
  std::vector<std::pair<std::string, Params>> v;
  for (int i = 1; i <= n; ++i)
    v.push_back({"INSERT INTO t(id, v) VALUES(?, ?)", params(i, "v" + std::to_string(i))});
  return v;
}

inline std::int64_t count_rows(Loop& loop, Database& db) {
  return wait(loop, db.query("SELECT count(*) FROM t")).front()[0].as_int();
}

}  // namespace weft::db::testing
