// The SQLite backend: Core's connections, the Database and Transaction classes.
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

// ---- Transaction ---------------------------------------------------------------------

SqliteTransaction::~SqliteTransaction() {
  if (finished_) return;
  if (auto f = front_.lock()) f->tx_finish(id_, false, Callback<Unit>());
}

void SqliteTransaction::do_submit(std::string sql, Params params, Callback<ResultSet> cb) {
  if (finished_) {
    return deliver_later(loop_, std::move(cb), Error(errc::misuse, "the transaction is already finished"));
  }
  auto f = front_.lock();
  if (!f) return deliver_later(loop_, std::move(cb), closed_error());
  f->tx_submit(id_, std::move(sql), std::move(params), std::move(cb));
}

void SqliteTransaction::do_finish(bool commit, Callback<Unit> cb) {
  if (finished_) {
    return deliver_later(loop_, std::move(cb), Error(errc::misuse, "the transaction is already finished"));
  }
  finished_ = true;
  auto f = front_.lock();
  if (!f) return deliver_later(loop_, std::move(cb), closed_error());
  f->tx_finish(id_, commit, std::move(cb));
}

// ---- Database ------------------------------------------------------------------------

namespace {

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(Loop& loop, OpenSpec spec)
      : loop_(loop), front_(std::make_shared<Front>(loop, std::move(spec))) {
    front_->start();
  }
  ~SqliteDatabase() override { front_->destroy(); }

  Stats stats() const override { return front_->stats(); }
  std::string_view backend() const noexcept override { return "sqlite"; }
  Loop& loop() const noexcept override { return loop_; }

 protected:
  void do_submit(std::string sql, Params params, Route route, Callback<ResultSet> cb) override {
    front_->submit(std::move(sql), std::move(params), route == Route::writer, std::move(cb));
  }
  void do_begin(Callback<std::unique_ptr<Transaction>> cb) override { front_->begin(std::move(cb)); }
  void do_ready(Callback<Unit> cb) override { front_->ready(std::move(cb)); }
  void do_close(Callback<Unit> cb) override { front_->close(std::move(cb)); }

 private:
  Loop& loop_;
  std::shared_ptr<Front> front_;
};

}  // namespace

std::unique_ptr<Database> make_database(Loop& loop, OpenSpec spec) {
  return std::make_unique<SqliteDatabase>(loop, std::move(spec));
}

}  // namespace weft::db::sqlite
