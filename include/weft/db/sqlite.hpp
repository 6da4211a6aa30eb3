// weft::db::sqlite — what only the SQLite backend offers, kept out of the
// backend-neutral weft/db/database.hpp so that it names no SQLite type.
//
//   db::Options o;
//   o.sqlite.on_connect = db::sqlite::on_connect([](sqlite3* c) {
//     sqlite3_create_function(c, "twice", 1, SQLITE_UTF8, nullptr, &twice, nullptr, nullptr);
//   });
//   auto db = db::open(loop, "sqlite:app.db", std::move(o));
#pragma once

#include <weft/db/database.hpp>

#include <functional>
#include <memory>
#include <utility>

struct sqlite3;  // SQLite's connection handle

namespace weft::db::sqlite {

// The SqliteOptions::on_connect hook: runs on a pool thread for every connection the
// database opens (the writer and each reader), after weft's pragmas. A throw fails the
// open (errc::cant_open, "on_connect failed: " and its message). Shared by every
// connection, possibly on several pool threads at once: it must be thread-safe.
class ConnectHook {
 public:
  explicit ConnectHook(std::function<void(sqlite3*)> fn) : fn_(std::move(fn)) {}
  void operator()(sqlite3* connection) const { fn_(connection); }

 private:
  std::function<void(sqlite3*)> fn_;
};

inline std::shared_ptr<const ConnectHook> on_connect(std::function<void(sqlite3*)> fn) {
  return std::make_shared<const ConnectHook>(std::move(fn));
}

}  // namespace weft::db::sqlite
