// The backend-neutral part of weft::db: open() by URL, the coroutine forms, the scoped
// callback transaction.
#if WEFT_WITH_POSTGRES
#include "db/pg_backend.hpp"
#endif
#if WEFT_WITH_SQLITE
#include "db/sqlite_backend.hpp"
#endif

#include <weft/db/database.hpp>
#include <weft/loop.hpp>

#include <string>

namespace weft::db {

// ---- coroutine forms -----------------------------------------------------------------

Awaitable<ResultSet> Database::query(std::string sql, Params params, CancelToken token) {
  return Awaitable<ResultSet>(
      [this, sql = std::move(sql), params = std::move(params)](Callback<ResultSet> cb,
                                                               CancelToken t) mutable {
        do_submit(std::move(sql), std::move(params), Route::automatic, std::move(cb), std::move(t));
      },
      std::move(token));
}

Awaitable<ResultSet> Database::exec(std::string sql, Params params, CancelToken token) {
  return Awaitable<ResultSet>(
      [this, sql = std::move(sql), params = std::move(params)](Callback<ResultSet> cb,
                                                               CancelToken t) mutable {
        do_submit(std::move(sql), std::move(params), Route::writer, std::move(cb), std::move(t));
      },
      std::move(token));
}

Awaitable<std::unique_ptr<Transaction>> Database::begin() {
  return Awaitable<std::unique_ptr<Transaction>>(
      [this](Callback<std::unique_ptr<Transaction>> cb, const CancelToken&) {
        do_begin(std::move(cb));
      });
}

Awaitable<void> Database::ready() {
  return Awaitable<void>(
      [this](Callback<void> cb, const CancelToken&) { do_ready(std::move(cb)); });
}

Awaitable<void> Database::close() {
  return Awaitable<void>(
      [this](Callback<void> cb, const CancelToken&) { do_close(std::move(cb)); });
}

Awaitable<ResultSet> Transaction::query(std::string sql, Params params, CancelToken token) {
  return Awaitable<ResultSet>(
      [this, sql = std::move(sql), params = std::move(params)](Callback<ResultSet> cb,
                                                               CancelToken t) mutable {
        do_submit(std::move(sql), std::move(params), std::move(cb), std::move(t));
      },
      std::move(token));
}

Awaitable<ResultSet> Transaction::exec(std::string sql, Params params, CancelToken token) {
  return query(std::move(sql), std::move(params), std::move(token));
}

Awaitable<void> Transaction::commit() {
  return Awaitable<void>(
      [this](Callback<void> cb, const CancelToken&) { do_finish(true, std::move(cb)); });
}

Awaitable<void> Transaction::rollback() {
  return Awaitable<void>(
      [this](Callback<void> cb, const CancelToken&) { do_finish(false, std::move(cb)); });
}

namespace detail {
Error closed_error() { return Error(errc::closed, "the database is closed"); }
Error statement_canceled() {
  return Error(std::make_error_code(std::errc::operation_canceled),
               "the statement was cancelled before it ran");
}

Task<void> rollback_quietly(Transaction& tx) {
  if (tx.finished()) co_return;
  try {
    co_await tx.rollback();
  } catch (...) {  // the body's failure is the one reported
  }
}
}  // namespace detail

// ---- the scoped callback form --------------------------------------------------------

void Database::transaction(Function<void(Transaction&, TransactionDone)> body,
                           Callback<void> finished) {
  auto shared_finished = std::make_shared<Callback<void>>(std::move(finished));
  begin([body = std::move(body),
         shared_finished](Outcome<std::unique_ptr<Transaction>>& r) mutable {
    if (!r.ok()) {
      Outcome<void> out(r.failure());
      return (*shared_finished)(out);
    }
    std::shared_ptr<Transaction> tx(std::move(r.value()));
    TransactionDone done = [tx, shared_finished](std::exception_ptr failure) {
      if (tx->finished()) return;  // called twice
      if (!failure) {
        return tx->commit([tx, shared_finished](Outcome<void>& out) { (*shared_finished)(out); });
      }
      tx->rollback([tx, shared_finished, failure](Outcome<void>&) {
        Outcome<void> out(to_error(failure));
        (*shared_finished)(out);
      });
    };
    auto finish = std::make_shared<TransactionDone>(std::move(done));
    try {
      body(*tx, [finish](std::exception_ptr e) { (*finish)(std::move(e)); });
    } catch (...) {
      (*finish)(std::current_exception());
    }
  });
}

// ---- open ----------------------------------------------------------------------------

namespace {

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.substr(0, prefix.size()) == prefix;
}

[[noreturn, maybe_unused]] void left_out(std::string_view backend) {
  throw Error(errc::bad_url, "this build of weft has no " + std::string(backend) +
                                 " backend (configured with WEFT_WITH_" +
                                 (backend == "SQLite" ? "SQLITE" : "POSTGRES") + "=OFF)");
}

#if WEFT_WITH_SQLITE
sqlite::OpenSpec parse_sqlite(std::string_view rest, Options options) {
  sqlite::OpenSpec spec;
  spec.options = std::move(options);
  if (rest == ":memory:") {
    spec.filename = ":memory:";
    spec.memory = true;
    return spec;
  }
  if (starts_with(rest, "//")) rest.remove_prefix(2);  // sqlite:///abs/path, sqlite://rel
  if (rest.empty())
    throw Error(errc::bad_url, "sqlite: the URL names no file (\"sqlite:path/to.db\")");
  if (starts_with(rest, "file:")) {
    throw Error(errc::bad_url, "sqlite: SQLite URI filenames are not accepted; give a path");
  }
  spec.filename = std::string(rest);
  return spec;
}
#endif

}  // namespace

std::unique_ptr<Database> open([[maybe_unused]] Loop& loop, std::string_view url,
                               [[maybe_unused]] Options options) {
  if (starts_with(url, "sqlite:")) {
#if WEFT_WITH_SQLITE
    return sqlite::make_database(loop, parse_sqlite(url.substr(7), std::move(options)));
#else
    left_out("SQLite");
#endif
  }
  if (starts_with(url, "postgres://") || starts_with(url, "postgresql://")) {
#if WEFT_WITH_POSTGRES
    return pg::make_database(loop, pg::parse_url(url, std::move(options)));
#else
    left_out("PostgreSQL");
#endif
  }
  std::string shown(url.substr(0, 64));
  throw Error(errc::bad_url, "unknown database URL '" + shown +
                                 "' (expected sqlite:path, sqlite::memory: or postgres://...)");
}

Task<std::unique_ptr<Database>> open_async(Loop& loop, std::string url, Options options) {
  std::unique_ptr<Database> db = open(loop, url, std::move(options));
  co_await db->ready();
  co_return db;
}

}  // namespace weft::db
