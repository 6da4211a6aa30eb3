// db_durability_child <db-url> <count>: inserts rows 1..count, each in its own
// transaction, and writes each id to stdout (unbuffered) once its commit is acknowledged.
// <db-url>: "sqlite:<path>" or a "postgres://" URL.
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

void acknowledge(long id) {
  std::string line = std::to_string(id) + "\n";
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDOUT_FILENO, p, left);
    if (n <= 0) std::_Exit(3);
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

weft::Task<void> insert_all(weft::Loop& loop, std::string url, long count) {
  std::unique_ptr<weft::db::Database> db = co_await weft::db::open_async(loop, url);
  std::vector<weft::db::Migration> steps = {
      {1, "CREATE TABLE acked(id INTEGER PRIMARY KEY, payload TEXT)"}};
  co_await weft::db::migrate(*db, std::move(steps));
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
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <db-url> <count>\n", argv[0]);
    return 2;
  }
  weft::Loop loop;
  try {
    weft::run_until_complete(loop, insert_all(loop, argv[1], std::strtol(argv[2], nullptr, 10)));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "db_durability_child: %s\n", e.what());
    return 1;
  }
  return 0;
}
