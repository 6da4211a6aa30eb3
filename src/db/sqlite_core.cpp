// The SQLite backend: Core's connections (the Database and Transaction classes are in
// front_database.hpp).
#include "db/sqlite_backend.hpp"

namespace weft::db::sqlite {

// ---- Core ----------------------------------------------------------------------------

Connection& Core::writer() {
  if (!writer_) {
    if (open_error_) throw *open_error_;
    try {
      writer_ = Connection::open(spec_, Role::writer, *counters_);
    } catch (const Error& e) {
      open_error_ = e;
      throw;
    }
  }
  return *writer_;
}

std::unique_ptr<Connection> Core::checkout_reader() {
  {
    std::lock_guard lock(mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return conn;
    }
  }
  return Connection::open(spec_, Role::reader, *counters_);  // outside the lock: it does I/O
}

void Core::checkin_reader(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  idle_readers_.push_back(std::move(conn));
}

void Core::close_all() noexcept {
  writer_.reset();
  std::vector<std::unique_ptr<Connection>> readers;
  {
    std::lock_guard lock(mu_);
    readers.swap(idle_readers_);
  }
  readers.clear();
}

std::unique_ptr<Database> make_database(Loop& loop, OpenSpec spec) {
  return std::make_unique<detail::FrontDatabase<Front>>(loop, "sqlite", std::move(spec));
}

}  // namespace weft::db::sqlite
