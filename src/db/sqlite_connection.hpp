// One SQLite connection and its prepared-statement cache. Pool threads only.
//
// A Connection is used by one thread at a time (opened SQLITE_OPEN_NOMUTEX, SQLite's
// multi-thread mode); the hand-off between threads goes through the pool's queue (the
// writer: one job at a time) or a mutex-protected free list (readers), which order every
// use after the previous one.
#pragma once

#include <weft/db/database.hpp>
#include <weft/histogram.hpp>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace weft::db::sqlite {

// Counters shared by every connection of one database (and read by Database::stats()).
struct Counters {
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint64_t> writes{0};
  std::atomic<std::uint64_t> prepares{0};
  std::atomic<std::uint64_t> cache_hits{0};
  std::atomic<std::uint64_t> connections_opened{0};
  // Group commit: recorded by the writer's group jobs (one at a time: the histograms'
  // single writer), read by Database::stats() on the loop.
  std::atomic<std::uint64_t> groups{0};
  std::atomic<std::uint64_t> grouped_writes{0};
  Histogram group_size;
  Histogram commit_ns;
  Histogram group_ns;
};

struct OpenSpec {
  std::string filename;  // a path, or ":memory:"
  bool memory = false;
  Options options;
};

enum class Role : unsigned char { writer, reader };

// An Error from a SQLite result code and the connection's message; `sql` (shortened) is
// named in the message.
Error make_error(sqlite3* db, int rc, std::string_view sql);

// Least recently used cache of prepared statements, keyed by SQL text.
class StatementCache {
 public:
  explicit StatementCache(std::size_t capacity) : capacity_(capacity) {}
  ~StatementCache();
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  std::size_t capacity() const noexcept { return capacity_; }
  sqlite3_stmt* find(const std::string& sql);               // marks it most recently used
  void insert(const std::string& sql, sqlite3_stmt* stmt);  // takes ownership; may evict
  void clear() noexcept;

 private:
  using Entry = std::pair<std::string, sqlite3_stmt*>;
  std::size_t capacity_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
};

class Connection;

// Where a cancellation reaches one statement: shared by its loop-side request (cancel())
// and its pool job (run()). sqlite3_interrupt() stops whatever the connection runs, so
// it is called only while this statement runs there: the job registers the connection
// under the mutex before the statement starts and unregisters it after it ended.
class Interrupt {
 public:
  // Loop thread: from now on the statement does not start; if it runs, it is interrupted.
  void cancel() noexcept;
  bool cancelled() const noexcept;
  // Pool thread: runs f() (the statement on `conn`) under the interrupt. Throws
  // operation_canceled if cancelled before it started, or if f() failed with
  // SQLITE_INTERRUPT after cancel() (an interrupt for the time limit stays timed_out).
  template <class F>
  auto run(Connection& conn, F f) -> decltype(f());

 private:
  bool enter(sqlite3* db);
  bool leave() noexcept;  // whether cancel() came while it ran
  mutable std::mutex mu_;
  sqlite3* db_ = nullptr;
  bool cancelled_ = false;
};

class Connection {
 public:
  // Opens and configures a connection (pragmas, on_connect). Throws Error.
  static std::unique_ptr<Connection> open(const OpenSpec& spec, Role role, Counters& counters);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement with params, or a script of several without. Throws Error.
  ResultSet run(const std::string& sql, const Params& params);
  // Runs sql only if it is one read-only statement; nullopt (nothing run) otherwise.
  std::optional<ResultSet> run_if_readonly(const std::string& sql, const Params& params);
  // Runs a statement without parameters or results (BEGIN, COMMIT, pragmas). Throws.
  void exec_simple(const char* sql);

  bool in_transaction() const noexcept { return sqlite3_get_autocommit(db_) == 0; }
  // After an interrupt that may have come once the statement had ended: clears SQLite's
  // interrupt flag, which would otherwise fail the next statement's parse.
  void clear_interrupt() noexcept;
  sqlite3* handle() const noexcept { return db_; }

 private:
  Connection(sqlite3* db, std::size_t cache_size, Counters& counters) noexcept
      : db_(db), cache_(cache_size), counters_(counters) {}
  // The progress handler: nonzero (interrupt) once the running statement's deadline passed.
  static int past_deadline(void* self) noexcept;
  [[noreturn]] void throw_step_error(int rc, std::string_view sql);
  void configure(const OpenSpec& spec, Role role);
  std::optional<ResultSet> run_impl(const std::string& sql, const Params& params,
                                    bool readonly_only);
  ResultSet execute(sqlite3_stmt* stmt, const Params& params, std::string_view sql);
  ResultSet run_script(sqlite3_stmt* first, const char* tail, const char* end,
                       std::string_view sql);

  sqlite3* db_;
  StatementCache cache_;
  Counters& counters_;
  std::chrono::milliseconds time_limit_{0};  // SqliteOptions::statement_timeout; 0: none
  // The running statement's deadline on CLOCK_MONOTONIC_COARSE, in ns (INT64_MAX: none
  // running, or no limit). The coarse clock (a few ms resolution) costs a few ns to read,
  // so the handler can run often.
  std::int64_t deadline_ns_ = INT64_MAX;
  sqlite3_stmt* noop_ = nullptr;  // "SELECT 0", for clear_interrupt()
};

Error interrupted_error(std::string_view why);

template <class F>
auto Interrupt::run(Connection& conn, F f) -> decltype(f()) {
  if (!enter(conn.handle())) throw interrupted_error("the statement was cancelled before it ran");
  try {
    if constexpr (std::is_void_v<decltype(f())>) {
      f();
      if (leave()) conn.clear_interrupt();
    } else {
      auto r = f();
      if (leave()) conn.clear_interrupt();
      return r;
    }
  } catch (const Error& e) {
    if (!leave()) throw;
    conn.clear_interrupt();
    if ((e.backend_code() & 0xff) != SQLITE_INTERRUPT || e.code() == std::errc::timed_out) throw;
    throw interrupted_error(std::string("the statement was cancelled while it ran: ") + e.what());
  } catch (...) {
    if (leave()) conn.clear_interrupt();
    throw;
  }
}

}  // namespace weft::db::sqlite
