#include "db/sqlite_connection.hpp"

#include "db/sql_lexer.hpp"

#include <weft/db/sqlite.hpp>

#include <limits>
#include <time.h>
#include <string>

namespace weft::db::sqlite {
namespace {

std::string shorten(std::string_view sql) {
  constexpr std::size_t kMax = 160;
  std::string s(sql.substr(0, kMax));
  if (sql.size() > kMax) s += "...";
  return s;
}

// Resets a statement (and forgets its bindings) or finalizes it when it is not cached.
class StatementUse {
 public:
  StatementUse(sqlite3_stmt* stmt, bool owned) noexcept : stmt_(stmt), owned_(owned) {}
  ~StatementUse() {
    if (owned_) {
      sqlite3_finalize(stmt_);
    } else {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

 private:
  sqlite3_stmt* stmt_;
  bool owned_;
};

int bind_one(sqlite3_stmt* stmt, int i, const Value& v) {
  switch (v.type()) {
    case Type::null:
      return sqlite3_bind_null(stmt, i);
    case Type::integer:
      return sqlite3_bind_int64(stmt, i, v.as_int());
    case Type::real:
      return sqlite3_bind_double(stmt, i, v.as_double());
    case Type::text: {
      const std::string& s = v.as_text();  // SQLITE_STATIC: params outlive the statement's use
      return sqlite3_bind_text64(stmt, i, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8);
    }
    case Type::blob: {
      const Blob& b = v.as_blob();
      if (b.empty()) return sqlite3_bind_zeroblob(stmt, i, 0);  // a null pointer would bind NULL
      return sqlite3_bind_blob64(stmt, i, b.data(), b.size(), SQLITE_STATIC);
    }
  }
  return SQLITE_MISUSE;
}

Value column_value(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
      return Value(static_cast<std::int64_t>(sqlite3_column_int64(stmt, i)));
    case SQLITE_FLOAT:
      return Value(sqlite3_column_double(stmt, i));
    case SQLITE_TEXT: {
      const auto* p = sqlite3_column_text(stmt, i);
      auto n = static_cast<std::size_t>(sqlite3_column_bytes(stmt, i));
      return Value(std::string(reinterpret_cast<const char*>(p), n));
    }
    case SQLITE_BLOB: {
      const void* p = sqlite3_column_blob(stmt, i);
      auto n = static_cast<std::size_t>(sqlite3_column_bytes(stmt, i));
      return Value(n == 0 ? Blob() : Blob(p, n));
    }
    default:
      return Value();
  }
}

const char* synchronous_pragma(Synchronous s) noexcept {
  switch (s) {
    case Synchronous::off:
      return "PRAGMA synchronous=OFF";
    case Synchronous::normal:
      return "PRAGMA synchronous=NORMAL";
    case Synchronous::full:
      return "PRAGMA synchronous=FULL";
  }
  return "PRAGMA synchronous=FULL";
}

std::int64_t coarse_now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

Error make_error(sqlite3* db, int rc, std::string_view sql) {
  std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (!sql.empty()) msg += " [in: " + shorten(sql) + "]";
  int primary = rc & 0xff;
  std::error_code ec = primary >= 1 && primary <= 26 ? make_error_code(static_cast<errc>(primary))
                                                     : make_error_code(errc::internal);
  return Error(ec, msg, rc);
}

Error interrupted_error(std::string_view why) {
  return Error(std::make_error_code(std::errc::operation_canceled), std::string(why),
               SQLITE_INTERRUPT);
}

// ---- Interrupt -----------------------------------------------------------------------

void Interrupt::cancel() noexcept {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  if (db_) sqlite3_interrupt(db_);
}

bool Interrupt::cancelled() const noexcept {
  std::lock_guard lock(mu_);
  return cancelled_;
}

bool Interrupt::enter(sqlite3* db) {
  std::lock_guard lock(mu_);
  if (cancelled_) return false;
  db_ = db;
  return true;
}

bool Interrupt::leave() noexcept {
  std::lock_guard lock(mu_);
  db_ = nullptr;
  return cancelled_;
}

// ---- StatementCache ------------------------------------------------------------------

StatementCache::~StatementCache() { clear(); }

void StatementCache::clear() noexcept {
  index_.clear();
  for (auto& e : lru_) sqlite3_finalize(e.second);
  lru_.clear();
}

sqlite3_stmt* StatementCache::find(const std::string& sql) {
  auto it = index_.find(std::string_view(sql));
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void StatementCache::insert(const std::string& sql, sqlite3_stmt* stmt) {
  lru_.emplace_front(sql, stmt);
  index_.emplace(std::string_view(lru_.front().first), lru_.begin());
  if (lru_.size() > capacity_) {
    index_.erase(std::string_view(lru_.back().first));
    sqlite3_finalize(lru_.back().second);
    lru_.pop_back();
  }
}

// ---- Connection ----------------------------------------------------------------------

std::unique_ptr<Connection> Connection::open(const OpenSpec& spec, Role role, Counters& counters) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (role == Role::writer) flags |= SQLITE_OPEN_CREATE;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(spec.filename.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error e = make_error(db, rc, {});
    sqlite3_close_v2(db);
    throw Error(e.code(), "cannot open '" + spec.filename + "': " + e.what(), rc);
  }
  std::unique_ptr<Connection> conn(new Connection(db, spec.options.statement_cache_size, counters));
  counters.connections_opened.fetch_add(1, std::memory_order_relaxed);
  conn->configure(spec, role);
  return conn;
}

void Connection::configure(const OpenSpec& spec, Role role) {
  const SqliteOptions& o = spec.options.sqlite;
  sqlite3_extended_result_codes(db_, 1);
  auto timeout = o.busy_timeout.count();
  sqlite3_busy_timeout(db_, timeout > std::numeric_limits<int>::max()
                                ? std::numeric_limits<int>::max()
                                : static_cast<int>(timeout));
  if (role == Role::writer) {
    // WAL is a property of the file; setting it once on the writer is enough. A memory
    // database has no WAL (it stays in "memory" journal mode).
    if (!spec.memory) exec_simple("PRAGMA journal_mode=WAL");
    exec_simple(synchronous_pragma(o.synchronous));
  } else {
    exec_simple("PRAGMA query_only=ON");  // a reader can never write, whatever it is sent
  }
  exec_simple(o.foreign_keys ? "PRAGMA foreign_keys=ON" : "PRAGMA foreign_keys=OFF");
  if (int rc = sqlite3_prepare_v2(db_, "SELECT 0", -1, &noop_, nullptr); rc != SQLITE_OK) {
    throw make_error(db_, rc, "SELECT 0");
  }
  time_limit_ = o.statement_timeout;
  if (time_limit_.count() > 0) sqlite3_progress_handler(db_, 100, &Connection::past_deadline, this);
  if (o.on_connect) {
    try {
      (*o.on_connect)(db_);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(errc::cant_open, std::string("on_connect failed: ") + e.what());
    }
  }
}

Connection::~Connection() {
  sqlite3_finalize(noop_);
  cache_.clear();
  sqlite3_close_v2(db_);
}

int Connection::past_deadline(void* self) noexcept {
  auto* c = static_cast<Connection*>(self);
  return coarse_now_ns() > c->deadline_ns_ ? 1 : 0;
}

// SQLITE_INTERRUPT from our progress handler is the time limit; anything else the error.
void Connection::throw_step_error(int rc, std::string_view sql) {
  if ((rc & 0xff) == SQLITE_INTERRUPT && coarse_now_ns() > deadline_ns_) {
    throw Error(std::make_error_code(std::errc::timed_out),
                "the statement ran longer than its time limit (" +
                    std::to_string(time_limit_.count()) + " ms) [in: " + shorten(sql) + "]",
                rc);
  }
  throw make_error(db_, rc, sql);
}

// sqlite3_step() clears the flag when it starts a statement while none is active (which is
// the case between our statements); preparing does not, so a stale flag would fail it.
void Connection::clear_interrupt() noexcept {
  if (!noop_) return;
  sqlite3_step(noop_);
  sqlite3_reset(noop_);
}

void Connection::exec_simple(const char* sql) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
  sqlite3_free(msg);
  if (rc != SQLITE_OK) throw make_error(db_, rc, sql);
}

ResultSet Connection::run(const std::string& sql, const Params& params) {
  return *run_impl(sql, params, false);
}

std::optional<ResultSet> Connection::run_if_readonly(const std::string& sql, const Params& params) {
  return run_impl(sql, params, true);
}

std::optional<ResultSet> Connection::run_impl(const std::string& sql, const Params& params,
                                              bool readonly_only) {
  sqlite3_stmt* stmt = cache_.find(sql);
  if (stmt) {
    counters_.cache_hits.fetch_add(1, std::memory_order_relaxed);
  } else {
    const char* tail = nullptr;
    unsigned flags = cache_.capacity() > 0 ? SQLITE_PREPARE_PERSISTENT : 0;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), flags, &stmt, &tail);
    counters_.prepares.fetch_add(1, std::memory_order_relaxed);
    if (rc != SQLITE_OK) throw make_error(db_, rc, sql);
    if (!stmt) return ResultSet{};  // only whitespace or comments
    const char* end = sql.data() + sql.size();
    if (!sql::is_blank(std::string_view(tail, static_cast<std::size_t>(end - tail)))) {
      if (readonly_only || !params.empty()) {
        sqlite3_finalize(stmt);
        if (readonly_only) return std::nullopt;
        throw Error(errc::misuse, "a script of several statements cannot take parameters [in: " +
                                      shorten(sql) + "]");
      }
      return run_script(stmt, tail, end, sql);
    }
    if (cache_.capacity() == 0) {
      if (readonly_only && !sqlite3_stmt_readonly(stmt)) {
        sqlite3_finalize(stmt);
        return std::nullopt;
      }
      StatementUse use(stmt, true);
      return execute(stmt, params, sql);
    }
    cache_.insert(sql, stmt);
  }
  if (readonly_only && !sqlite3_stmt_readonly(stmt)) return std::nullopt;
  StatementUse use(stmt, false);
  return execute(stmt, params, sql);
}

ResultSet Connection::execute(sqlite3_stmt* stmt, const Params& params, std::string_view sql) {
  int expected = sqlite3_bind_parameter_count(stmt);
  if (static_cast<std::size_t>(expected) != params.size()) {
    throw Error(errc::range, "the statement takes " + std::to_string(expected) + " parameter(s), " +
                                 std::to_string(params.size()) + " given [in: " + shorten(sql) +
                                 "]");
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    int rc = bind_one(stmt, static_cast<int>(i + 1), params[i]);
    if (rc != SQLITE_OK) throw make_error(db_, rc, sql);
  }
  ResultSet rs;
  int ncol = sqlite3_column_count(stmt);
  if (ncol > 0) {
    auto names = std::make_shared<std::vector<std::string>>();
    names->reserve(static_cast<std::size_t>(ncol));
    for (int i = 0; i < ncol; ++i) {
      const char* n = sqlite3_column_name(stmt, i);
      names->emplace_back(n ? n : "");
    }
    rs.columns = std::move(names);
  }
  const bool readonly = sqlite3_stmt_readonly(stmt) != 0;
  const sqlite3_int64 before = sqlite3_total_changes64(db_);
  struct Deadline {  // the statement's time limit, for past_deadline(); none after it
    std::int64_t& at;
    ~Deadline() { at = INT64_MAX; }
  } deadline{deadline_ns_};
  if (time_limit_.count() > 0) {
    deadline_ns_ =
        coarse_now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(time_limit_).count();
  }
  for (;;) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) throw_step_error(rc, sql);
    std::vector<Value> values;
    values.reserve(static_cast<std::size_t>(ncol));
    for (int i = 0; i < ncol; ++i) values.push_back(column_value(stmt, i));
    rs.rows.emplace_back(rs.columns, std::move(values));
  }
  if (!readonly) {
    if (sqlite3_total_changes64(db_) != before) rs.rows_affected = sqlite3_changes64(db_);
    rs.last_insert_id = sqlite3_last_insert_rowid(db_);
  }
  return rs;
}

ResultSet Connection::run_script(sqlite3_stmt* first, const char* tail, const char* end,
                                 std::string_view sql) {
  const sqlite3_int64 before = sqlite3_total_changes64(db_);
  ResultSet last;
  {
    StatementUse use(first, true);
    last = execute(first, {}, sql);
  }
  while (tail < end) {
    sqlite3_stmt* stmt = nullptr;
    const char* next = nullptr;
    int rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail), &stmt, &next);
    counters_.prepares.fetch_add(1, std::memory_order_relaxed);
    if (rc != SQLITE_OK)
      throw make_error(db_, rc, std::string_view(tail, static_cast<std::size_t>(end - tail)));
    tail = next;
    if (!stmt) continue;
    StatementUse use(stmt, true);
    last = execute(stmt, {}, sql);
  }
  last.rows_affected = sqlite3_total_changes64(db_) - before;
  return last;
}

}  // namespace weft::db::sqlite
