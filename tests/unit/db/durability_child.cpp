// db_durability_child <db-url> <count> [concurrent]: inserts rows 1..count, each in its own
// transaction, and writes each id to stdout (unbuffered) once its commit is acknowledged.
// <db-url>: "sqlite:<path>" or a "postgres://" URL.
// "concurrent": 16 writers at once, each row one plain INSERT (so SQLite's writer groups
// them: GroupCommit); every 10th row is refused by the database (a NULL payload into a NOT
// NULL column), which prints "r<id>" once its failure is delivered.
// The durability test SIGKILLs it part-way and checks that every printed id survived.
#include <weft/db/database.hpp>
#include <weft/db/migrate.hpp>
#include <weft/loop.hpp>
#include <weft/task.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

void acknowledge(long id, const char* prefix = "") {
  std::string line = prefix + std::to_string(id) + "\n";
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDOUT_FILENO, p, left);
    if (n <= 0) std::_Exit(3);
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

constexpr long writers = 16;

// A writer inserts rows first, first + writers, ...: each statement completes before its next.
weft::Task<void> writer(weft::db::Database& db, long first, long count) {
  for (long id = first; id <= count; id += writers) {
    const bool refused = id % 10 == 0;
    weft::db::Value payload = refused ? weft::db::Value() : weft::db::Value(std::string(100, 'x'));
    bool failed = false;
    try {
      co_await db.exec("INSERT INTO acked(id, payload) VALUES(?, ?)",
                       weft::db::params(id, std::move(payload)));
    } catch (const weft::db::Error&) {
      failed = true;
    }
    if (failed != refused) std::_Exit(4);  // a good row failed, or a bad one was stored
    acknowledge(id, failed ? "r" : "");
  }
}

weft::Task<void> insert_all(weft::Loop& loop, std::string url, long count, bool concurrent) {
  std::unique_ptr<weft::db::Database> db = co_await weft::db::open_async(loop, url);
  std::vector<weft::db::Migration> steps = {
      {1, "CREATE TABLE acked(id INTEGER PRIMARY KEY, payload TEXT NOT NULL)"}};
  co_await weft::db::migrate(*db, std::move(steps));
  if (concurrent) {  // spawned (tasks awaited one by one would take turns); main() runs them
    std::shared_ptr<weft::db::Database> shared(std::move(db));
    auto remaining = std::make_shared<long>(writers);
    for (long w = 1; w <= writers; ++w) {
      weft::spawn(loop, [shared, w, count, remaining]() -> weft::Task<void> {
        co_await writer(*shared, w, count);
        if (--*remaining == 0) co_await shared->close();
      });
    }
    co_return;
  }
  for (long id = 1; id <= count; ++id) {
    auto body = [id](weft::db::Transaction& tx) -> weft::Task<void> {
      co_await tx.exec("INSERT INTO acked(id, payload) VALUES(?, ?)",
                       weft::db::params(id, std::string(100, 'x')));
    };
    co_await db->transaction(body);
    acknowledge(id);  // only after the commit completed
  }
  co_await db->close();
}

}  // namespace

int main(int argc, char** argv) {
  const bool concurrent = argc == 4 && std::string(argv[3]) == "concurrent";
  if (argc != 3 && !concurrent) {
    std::fprintf(stderr, "usage: %s <db-url> <count> [concurrent]\n", argv[0]);
    return 2;
  }
  weft::Loop loop;
  try {
    weft::run_until_complete(
        loop, insert_all(loop, argv[1], std::strtol(argv[2], nullptr, 10), concurrent));
    loop.run();  // the concurrent writers
  } catch (const std::exception& e) {
    std::fprintf(stderr, "db_durability_child: %s\n", e.what());
    return 1;
  }
  return 0;
}
