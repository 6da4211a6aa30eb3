// weft::db — one Database interface; SQLite (on the pool) and PostgreSQL (on the loop).
//
//   auto db = weft::db::open(loop, "sqlite:app.db");          // returns at once
//   weft::db::Params by_id{id};  // named: GCC 12 rejects a braced list inside co_await
//   auto rs = co_await db->query("SELECT id, body FROM notes WHERE id = ?", by_id);
//   auto transfer = [&](weft::db::Transaction& tx) -> weft::Task<void> {
//     weft::db::Params a{from}, b{to};
//     co_await tx.exec("UPDATE accounts SET n = n - 1 WHERE id = ?", a);
//     co_await tx.exec("UPDATE accounts SET n = n + 1 WHERE id = ?", b);
//   };
//   co_await db->transaction(transfer);                        // commit, or rollback + rethrow
//   db->query(sql, params, [](weft::db::Outcome<weft::db::ResultSet>& r) { ... });
//   co_await db->close();
//
// URLs. "sqlite:path/to.db" (relative to the working directory), "sqlite:///abs/path.db"
// or "sqlite:/abs/path.db", "sqlite::memory:". "postgres://user:pw@host:port/dbname?opt=v"
// (and "postgresql://"): any libpq connection URI (parsed by libpq; a malformed one
// throws errc::bad_url), e.g. "postgres://app@127.0.0.1:5432/app" or, over the unix
// socket, "postgres://app@/app?host=/run/postgresql". Anything else throws errc::bad_url. open()
// never blocks: the database is opened on the pool by its first job; statements issued meanwhile
// wait for it (in order), and an open failure is the error of every statement. open_async() is the
// form that waits and throws.
//
// Statements. query() and exec() both run one SQL statement with positional `?`
// parameters (every backend takes `?`; PostgreSQL's will rewrite them to $n), or a
// script of several statements separated by ';' when there are no parameters (the
// result is the last statement's). They differ in routing:
//  * query(): reads run concurrently (SQLite: on reader connections, pool class
//    `slow`); anything that writes runs on the one writer, in submission order.
//  * exec(): always on the writer, in submission order — for DDL, PRAGMAs, scripts.
// Ordering: writes run in submission order, each completion in that order. A read from
// query() is NOT ordered after writes still in flight (it may run on a reader before
// them, seeing the last commit, as in a connection pool): await the write first, or read
// through exec() or a transaction, when the read must see it. Routing is decided on the
// loop thread by a small SQL scanner (SELECT/VALUES/WITH/EXPLAIN without INSERT, UPDATE,
// DELETE or REPLACE is a read) and confirmed on the reader with sqlite3_stmt_readonly;
// a statement that turns out to write joins the back of the writer's FIFO. Reader
// connections are query_only. Connection-level PRAGMAs sent through exec() affect the
// writer only: use SqliteOptions for the ones every connection needs.
// ":memory:" uses a single connection (each SQLite connection to ":memory:" would be a
// separate database): every statement goes through the writer, reads included.
// Transaction control (BEGIN, COMMIT, END, ROLLBACK, and SAVEPOINT/RELEASE outside a
// transaction) is refused with errc::misuse: use begin()/transaction(), which hold the
// writer for their duration (other writes wait; reads go on).
//
// Forms. Every operation has a callback form — Callback<T>, called exactly once on the
// loop thread, never inside the call — and a coroutine form returning an Awaitable<T>
// that yields T or throws db::Error. Awaitables start when awaited; await them at once
// (they refer to the Database). A coroutine destroyed while suspended cancels its
// statement (below) and drops its result.
//
// Cancellation. query() and exec() (of a Database and of a Transaction, both forms) take
// an optional CancelToken (weft/cancel.hpp: an explicit parameter, as for every awaitable
// of weft); the coroutine forms also cancel when the awaiting coroutine is destroyed
// (with_timeout, when_any). What it does to the statement:
//  * not started yet (waiting in the writer's FIFO, for a connection, or queued on the
//    pool): removed; it never runs and completes with std::errc::operation_canceled (in
//    the next pending phase, never inside cancel()).
//  * running, SQLite: sqlite3_interrupt() on its connection (only while this statement
//    runs there); a write is rolled back (in a transaction: the whole transaction, whose
//    later statements then fail with errc::abort); the connection goes on.
//  * running, PostgreSQL: a cancel request (PQgetCancel on the loop, the blocking
//    PQcancel in a pool job on class `slow`, so the loop never waits), sent once the
//    statement is at the head of its connection's pipeline, and repeated (50 ms, doubling
//    to 1 s) while it stays there unanswered — a server ignores a request that reaches it
//    between two protocol messages; the server aborts it (rolled
//    back; in a transaction, the transaction is aborted) and the connection stays usable.
//    A write inside a group commit (GroupCommit): the group is rolled back, the cancelled
//    write leaves it with operation_canceled and the others run again (committed).
//  * The outcome is then operation_canceled — or the statement's real result when it
//    finished before the cancellation reached it (a write that committed is reported
//    as committed; cancellation never lies about what happened). The awaiting coroutine
//    resumes once the outcome is known: SQLite's interrupt takes effect within ~100
//    virtual-machine instructions, PostgreSQL's within a round trip to the server.
//  * PostgreSQL's cancel protocol targets "whatever the connection runs now": if the
//    statement finishes just as the request lands, the server may cancel the next one in
//    the pipeline. weft sends such a read again (reads are idempotent) and runs such a
//    group commit again; a lone write fails with operation_canceled and a message that
//    says so (it was rolled back). The race
//    needs a cancel within about a millisecond of the statement's end. Cancellations are
//    recognised by SQLSTATE 57014 with the server's "user request" message (an
//    lc_messages other than English shows them as timed_out).
//  * begin(), commit(), rollback(), ready() and close() take no token.
//
// Lifetime. Destroy a Database before its Loop. Destroying it (or close()) refuses new
// statements with errc::closed. On destruction, statements not yet started complete with
// std::errc::operation_canceled (in the next pending phase); statements already running
// finish and their callbacks receive the real result (an acknowledged write is durable);
// connections are closed on the pool once the last job is done (so the loop runs until
// then). close() instead waits for everything queued and running, rolls back a
// transaction left open with nothing queued, then closes the connections on the pool.
//
// Threads: every member is called on the loop thread. SQLite never runs on the loop
// thread: every call into SQLite, including opening and closing, happens on a pool thread.
//
// PostgreSQL (libpq, non-blocking, pipeline mode; every libpq call on the loop thread,
// no pool job except PQcancel: at destruction, and for a cancelled statement). What
// differs from SQLite:
//  * Routing: a pool of PostgresOptions::pool_size connections, opened on demand (the
//    first at open()). One carries every write and exec() in submission order, pipelined
//    (up to pipeline_depth statements in flight); reads from query() go to the others
//    (the idlest, or a new one while the pool has room). begin() reserves one of those
//    for the transaction (after the writes submitted before it have finished), so
//    transactions run concurrently with each other and with writes (MVCC; locks wait on
//    the server, not in weft). With pool_size 1 everything shares one connection and a
//    transaction holds it as it holds SQLite's writer.
//  * Statements: `?` is rewritten to $1..$n (`?NNN` to $NNN) outside literals, quoted
//    identifiers, comments and dollar quotes; with no `?` the SQL is sent as written
//    (native $n work). PostgreSQL's own `?` operators (jsonb ?, ?|, ?&) cannot be used:
//    call jsonb_exists() & co. A script (several statements, no parameters) runs in the
//    simple protocol as one implicit transaction. Each statement is prepared once per
//    connection (statement_cache_size, LRU; DEALLOCATE on eviction) — do not send
//    DISCARD ALL / DEALLOCATE ALL yourself.
//  * Values: parameters go as text with their type left to the server (so they take the
//    column's type; cast with ?::jsonb, ?::timestamptz), except integers (int8), reals
//    (float8) and blobs (bytea). A NULL parameter has no type: cast it where the server
//    cannot infer one (`?::int IS NULL`). Text cannot hold NUL bytes (errc::mismatch).
//    Results (text format) map by column type: bool, int2/4/8, oid -> integer; float4/8
//    and numeric -> real (numeric rounded to a double: select ::text to keep it exact);
//    bytea -> blob; text, varchar, json, jsonb and every other type -> text.
//    last_insert_id is always 0: use RETURNING.
//  * Errors: SQLSTATE classes map onto db::errc (see error.hpp); what() is the server's
//    message, detail, "[SQLSTATE xxxxx]" and the statement. A connection that cannot be
//    opened fails the statements waiting for it with errc::cant_open naming host:port
//    and libpq's reason; the next statement tries again. A connection that breaks
//    fails its statements in flight with errc::connection_lost (a write may or may not
//    have committed); statements not yet sent go to a fresh connection, except a
//    transaction's (errc::abort; rollback() then succeeds).
//  * Timeouts: PostgresOptions::query_timeout is the server's statement_timeout (the
//    server cancels exactly the statement that overran, with no racy cancel request; it
//    completes with std::errc::timed_out and the connection stays usable); a server that
//    does not answer for query_timeout + 1 s loses the connection (std::errc::timed_out).
//  * Destruction: statements not yet sent complete with operation_canceled; for those in
//    flight a cancel request is sent (PQcancel blocks, so it runs on the pool's `slow`
//    class) and they complete with their real outcome or operation_canceled; the
//    connections close once their answers are in (the loop runs until then). Idle
//    connections do not keep the loop alive.
#pragma once

#include <weft/cancel.hpp>
#include <weft/db/error.hpp>
#include <weft/db/value.hpp>
#include <weft/function.hpp>
#include <weft/histogram.hpp>
#include <weft/task.hpp>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace weft {
class Loop;
}  // namespace weft

namespace weft::db {

// SQLite's PRAGMA synchronous, the durability knob.
//  full   (default) the WAL is fsync'ed at every commit: an acknowledged write survives a
//         crash of the process and of the machine (power loss, kernel panic).
//  normal fsync only at checkpoints: survives a process crash; the last commits may be
//         lost (never corrupted) if the machine goes down. Much faster for small writes.
//  off    no fsync at all: a machine crash may corrupt the database. Tests and caches.
enum class Synchronous : unsigned char { off, normal, full };

// PostgreSQL only (see the header comment for what each does).
struct PostgresOptions {
  // Connections per database, opened on demand: one carries every write and exec() in
  // order; reads and transactions use the others (with 1, everything shares the one).
  std::size_t pool_size = 4;
  // Statements sent on one connection and not yet answered (pipeline mode); more wait.
  std::size_t pipeline_depth = 256;
  // Statements waiting for a connection (not yet sent) before errc::full; 0: no bound.
  std::size_t max_queued = 65536;
  // Establishing one connection (TCP, TLS, authentication), else errc::cant_open.
  std::chrono::milliseconds connect_timeout{10000};
  // A statement running longer is canceled by the server (its statement_timeout) and
  // completes with std::errc::timed_out; the connection stays usable. A server that does
  // not answer for query_timeout + 1 s loses the connection (replaced; its statements
  // fail with std::errc::timed_out). 0: no limit (the default: migrations may be long).
  std::chrono::milliseconds query_timeout{0};
};

// Group commit: autocommit writes that queue on the writer while a commit is in flight are
// applied in the next transaction and committed together — one fsync for the group. Each
// write still succeeds or fails alone, and each is acknowledged only after its group's
// COMMIT returned: what an acknowledgement means does not change. SQLite: one SAVEPOINT per
// write (a failure rolls back to it). PostgreSQL: the group is BEGIN, the writes, COMMIT in
// one pipeline sync; a failing write aborts the pipeline up to the sync, so the group is
// rolled back and sent again without it (its neighbours never see its effects). Only single
// INSERT/UPDATE/DELETE/REPLACE statements (and WITH ... of those) from query()/exec()
// outside a transaction are grouped; anything else (DDL, PRAGMAs, scripts, transactions)
// runs alone, in its place in the FIFO.
struct GroupCommit {
  bool enabled = true;
  // Writes per group at most; the rest wait for the next group.
  std::size_t max_size = 256;
  // How long the groupable writes at the front of the FIFO, once the writer is free to take
  // them, wait for the group to fill (to max_size) before it starts (a timer on the loop);
  // 0 (the default): it starts at once, and groups form only from what queued while the
  // previous commit ran — a lone write never waits. SQLite only (PostgreSQL: always 0).
  std::chrono::microseconds max_wait{0};
};

namespace sqlite {
class ConnectHook;  // weft/db/sqlite.hpp: db::sqlite::on_connect(fn)
}  // namespace sqlite

// SQLite only.
struct SqliteOptions {
  Synchronous synchronous = Synchronous::full;
  // How long a statement waits for a lock held by another process before errc::busy.
  // Inside one process the single writer means weft never contends with itself.
  std::chrono::milliseconds busy_timeout{5000};
  // A statement still running after this long is interrupted (a progress handler,
  // checked every 100 virtual machine instructions on a clock of a few ms resolution, so
  // one long function call, such as a LIKE over a large value, finishes first) and fails
  // with std::errc::timed_out; a write is rolled back, and the connection goes on with the
  // next statement. 0: no limit (the default). PostgreSQL's is PostgresOptions::query_timeout.
  std::chrono::milliseconds statement_timeout{0};
  bool foreign_keys = true;  // PRAGMA foreign_keys=ON on every connection
  // Called on a pool thread for every connection opened (the writer and each reader)
  // after weft's pragmas — to register functions, collations, extensions. A throw fails
  // the open with its message. Made by db::sqlite::on_connect(fn) (weft/db/sqlite.hpp),
  // so that this header does not name SQLite's types. Null: none.
  std::shared_ptr<const sqlite::ConnectHook> on_connect;
};

// Options of db::open(). The fields at the top apply to both backends; `sqlite` and
// `postgres` hold what only one of them reads (the other ignores its part), so one
// Options value can serve a program that opens either URL, e.g.
//   db::Options o;
//   o.statement_cache_size = 128;
//   o.sqlite.synchronous = db::Synchronous::normal;
//   o.postgres.pool_size = 8;
// Time limits are per backend because they do different things: SQLite interrupts the
// statement in the process, PostgreSQL sets the server's statement_timeout.
struct Options {
  GroupCommit group_commit;  // both (max_wait: SQLite only)
  // Prepared statements kept per connection (least recently used evicted); 0: none.
  std::size_t statement_cache_size = 64;
  SqliteOptions sqlite;
  PostgresOptions postgres;
};

struct Stats {
  std::uint64_t reads = 0;         // statements completed on reader connections
  std::uint64_t writes = 0;        // statements completed on the writer (transactions too)
  std::uint64_t transactions = 0;  // begun
  std::uint64_t commits = 0;
  std::uint64_t rollbacks = 0;
  std::uint64_t prepares = 0;  // statements compiled (sqlite3_prepare), all connections
  std::uint64_t statement_cache_hits = 0;
  std::uint64_t connections_opened = 0;  // the writer and every reader, since open()
  std::size_t queued_writes = 0;         // waiting in the writer's FIFO now
  std::size_t reads_in_flight = 0;       // on the pool now (PostgreSQL: sent, unanswered)
  // PostgreSQL only.
  std::uint64_t connections_lost = 0;  // dropped by the server or the network
  std::size_t connections_open = 0;    // connected now
  std::size_t max_pipeline_depth = 0;  // most statements in flight on one connection
  // Group commit (see GroupStats). The same figures as group_stats().
  std::uint64_t groups = 0;
  std::uint64_t grouped_writes = 0;
  HistogramSnapshot group_size;
  HistogramSnapshot commit_ns;
  HistogramSnapshot group_ns;
};

// Group commit figures. Every groupable write is counted,
// a lone one as a group of one (its autocommit is its group's commit); with grouping off,
// or for statements that are never grouped (DDL, transactions), nothing is.
struct GroupStats {
  std::uint64_t groups = 0;          // committed or failed
  std::uint64_t grouped_writes = 0;  // writes in them
  HistogramSnapshot group_size;      // writes per group
  HistogramSnapshot commit_ns;       // the COMMIT statement (its fsync), ns; PostgreSQL: =
                                     // group_ns (the server answers a group at its sync)
  HistogramSnapshot group_ns;        // the whole group on the writer: BEGIN to COMMIT, ns
};

// co_await form of an operation: yields T or throws db::Error (std::system_error with
// operation_canceled once cancelled). Starts when awaited.
//
// Cancellation (see "Cancellation" in the header comment): the statement is cancelled
// when the token is cancelled or when the awaiting coroutine is destroyed while
// suspended (with_timeout, when_any, a dropped Task) — the same mechanism either way, so
// a timed-out query does not keep running on the pool or the server.
template <class T>
class [[nodiscard]] Awaitable {
 public:
  // Starts the operation: the callback receives its outcome (exactly once, never inside
  // the call); the token is cancelled to stop it.
  using Start = Function<void(Callback<T>, CancelToken)>;
  explicit Awaitable(Start start, CancelToken token = {})
      : start_(std::move(start)), token_(std::move(token)) {}
  Awaitable(Awaitable&&) noexcept = default;
  Awaitable(const Awaitable&) = delete;
  Awaitable& operator=(const Awaitable&) = delete;
  Awaitable& operator=(Awaitable&&) = delete;
  ~Awaitable() {
    if (!state_ || !state_->waiter) return;
    state_->waiter = nullptr;  // a destroyed coroutine is never resumed
    state_->user.detach();
    state_->stop.cancel();  // and its statement is cancelled, not abandoned
  }

  // A token already cancelled: nothing starts.
  bool await_ready() const noexcept { return token_.cancelled(); }
  void await_suspend(std::coroutine_handle<> h) {
    state_ = std::make_shared<State>();
    state_->waiter = h;
    if (token_.can_be_cancelled())
      state_->user.attach(token_, [s = state_.get()] { s->stop.cancel(); });
    start_(
        [s = state_](Outcome<T>& out) {
          s->user.detach();
          if (!s->waiter) return;
          s->out.emplace(std::move(out));
          std::exchange(s->waiter, nullptr).resume();
        },
        state_->stop.token());
  }
  T await_resume() {
    if (!state_)
      throw Error(std::make_error_code(std::errc::operation_canceled),
                  "cancelled before it started");
    return std::move(*state_->out).value();
  }

 private:
  struct State {
    std::coroutine_handle<> waiter;
    std::optional<Outcome<T>> out;
    CancelSource stop;        // what the backend listens to
    CancelRegistration user;  // forwards the caller's token to `stop`
  };
  Start start_;
  CancelToken token_;
  std::shared_ptr<State> state_;
};

// A transaction holds a connection from begin() to commit() or rollback() (SQLite: the
// writer; PostgreSQL: one of the pool's); its statements run on it in order and see its
// own writes. A Transaction destroyed
// unfinished is rolled back. If the backend aborts it (SQLite does on some errors), later
// statements and commit() fail with errc::abort; rollback() then succeeds.
class Transaction {
 public:
  virtual ~Transaction() = default;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void query(std::string sql, Params params, Callback<ResultSet> cb, CancelToken token = {}) {
    do_submit(std::move(sql), std::move(params), std::move(cb), std::move(token));
  }
  void exec(std::string sql, Params params, Callback<ResultSet> cb, CancelToken token = {}) {
    do_submit(std::move(sql), std::move(params), std::move(cb), std::move(token));
  }
  void commit(Callback<void> cb) { do_finish(true, std::move(cb)); }
  void rollback(Callback<void> cb) { do_finish(false, std::move(cb)); }

  Awaitable<ResultSet> query(std::string sql, Params params = {}, CancelToken token = {});
  Awaitable<ResultSet> exec(std::string sql, Params params = {}, CancelToken token = {});
  Awaitable<void> commit();
  Awaitable<void> rollback();

  // commit() or rollback() was called.
  virtual bool finished() const noexcept = 0;

 protected:
  Transaction() = default;
  virtual void do_submit(std::string sql, Params params, Callback<ResultSet> cb,
                         CancelToken token) = 0;
  virtual void do_finish(bool commit, Callback<void> cb) = 0;
};

namespace detail {
template <class>
struct TaskValue;
template <class T>
struct TaskValue<Task<T>> {
  using type = T;
};
// Rolls back, swallowing a failure (the body's exception is the one that matters).
Task<void> rollback_quietly(Transaction& tx);
}  // namespace detail

// The callback scoped form's completion handle: call it once, with nullptr to commit or
// with the exception that failed the body to roll back.
using TransactionDone = Function<void(std::exception_ptr)>;

class Database {
 public:
  virtual ~Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // ---- callback forms --------------------------------------------------------------
  // token: see "Cancellation" in the header comment (the callback then receives
  // operation_canceled, or the statement's real outcome if it finished first).
  void query(std::string sql, Params params, Callback<ResultSet> cb, CancelToken token = {}) {
    do_submit(std::move(sql), std::move(params), Route::automatic, std::move(cb), std::move(token));
  }
  void exec(std::string sql, Params params, Callback<ResultSet> cb, CancelToken token = {}) {
    do_submit(std::move(sql), std::move(params), Route::writer, std::move(cb), std::move(token));
  }
  void begin(Callback<std::unique_ptr<Transaction>> cb) { do_begin(std::move(cb)); }
  // Scoped: begins, runs body(tx, done); done(nullptr) commits, done(error) or a throw
  // from body rolls back; then `finished` gets the outcome (a body failure is reported as
  // its db::Error, or errc::abort with its message). If `done` is dropped uncalled, the
  // transaction is rolled back and `finished` is not called.
  void transaction(Function<void(Transaction&, TransactionDone)> body, Callback<void> finished);
  // Completes once the database is open (or with the open error).
  void ready(Callback<void> cb) { do_ready(std::move(cb)); }
  void close(Callback<void> cb) { do_close(std::move(cb)); }

  // ---- coroutine forms -------------------------------------------------------------
  Awaitable<ResultSet> query(std::string sql, Params params = {}, CancelToken token = {});
  Awaitable<ResultSet> exec(std::string sql, Params params = {}, CancelToken token = {});
  Awaitable<std::unique_ptr<Transaction>> begin();
  Awaitable<void> ready();
  Awaitable<void> close();

  // co_await db->transaction([&](Transaction& tx) -> Task<T> {...}): runs the body in a
  // transaction; commits when it returns (unless it finished the transaction itself) and
  // yields its value; rolls back and rethrows when it throws.
  template <class F>
    requires std::is_invocable_v<F&, Transaction&>
        Task<typename detail::TaskValue<std::invoke_result_t<F&, Transaction&>>::type> transaction(
            F body);

  virtual Stats stats() const = 0;
  // Unlike every other member, callable from any thread (for /_weft/ on another loop).
  virtual GroupStats group_stats() const = 0;
  virtual std::string_view backend() const noexcept = 0;  // "sqlite" or "postgres"
  virtual Loop& loop() const noexcept = 0;

 protected:
  Database() = default;
  enum class Route : unsigned char { automatic, writer };
  // The primitives a backend implements. Contract: `cb` runs exactly once, on the loop
  // thread, never inside the call.
  // `token`: cancelled to stop the statement (a queued one is removed, a running one
  // interrupted); cb then gets operation_canceled, or the real outcome if it won the race.
  virtual void do_submit(std::string sql, Params params, Route route, Callback<ResultSet> cb,
                         CancelToken token) = 0;
  virtual void do_begin(Callback<std::unique_ptr<Transaction>> cb) = 0;
  virtual void do_ready(Callback<void> cb) = 0;
  virtual void do_close(Callback<void> cb) = 0;
};

template <class F>
  requires std::is_invocable_v<F&, Transaction&>
      Task<typename detail::TaskValue<std::invoke_result_t<F&, Transaction&>>::type>
      Database::transaction(F body) {
    using R = typename detail::TaskValue<std::invoke_result_t<F&, Transaction&>>::type;
    std::unique_ptr<Transaction> tx = co_await begin();
    std::exception_ptr failure;
    if constexpr (std::is_void_v<R>) {
      try {
        co_await body(*tx);
      } catch (...) {
        failure = std::current_exception();
      }
      if (failure) {
        co_await detail::rollback_quietly(*tx);
        std::rethrow_exception(failure);
      }
      if (!tx->finished()) co_await tx->commit();
    } else {
      std::optional<R> value;
      try {
        value.emplace(co_await body(*tx));
      } catch (...) {
        failure = std::current_exception();
      }
      if (failure) {
        co_await detail::rollback_quietly(*tx);
        std::rethrow_exception(failure);
      }
      if (!tx->finished()) co_await tx->commit();
      co_return std::move(*value);
    }
  }

// Opens a database by URL (see the header comment). Throws db::Error for a bad URL or an
// unsupported backend; every other failure is reported by the first statements.
std::unique_ptr<Database> open(Loop& loop, std::string_view url, Options options = {});
// Opens and waits until the database is open; throws db::Error if it cannot be.
Task<std::unique_ptr<Database>> open_async(Loop& loop, std::string url, Options options = {});

}  // namespace weft::db
