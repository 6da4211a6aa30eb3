// The PostgreSQL backend: libpq in non-blocking pipeline mode, driven by the loop.
//
// Connection: one PGconn, its socket in an IoWatcher, a Timer (connect timeout, then the
// unresponsive-server guard), a prepared-statement cache, and two FIFOs: requests
// assigned to it but not sent (`pending_`) and requests sent and not yet answered
// (`inflight_`, at most pipeline_depth). Each request is its own pipeline sync group, so
// a failing statement aborts nothing but itself. A script (several statements, no
// parameters) leaves pipeline mode for the simple protocol while it runs alone.
//
// Group commit (pg_group.cpp): autocommit writes that queue on slot 0 while an earlier
// request is in flight are sent together as BEGIN, the writes, COMMIT and one sync — one
// commit (one WAL flush) for the group. Each write is acknowledged after the COMMIT. A
// write that fails aborts the rest of the pipeline up to the sync (savepoints cannot stop
// that), so the group is rolled back, the failed write keeps its error and the others are
// sent again in the same group: nothing was committed, they simply run again. Members are
// acknowledged in submission order, the failed ones with their errors.
//
// Front: routing, transactions, close and destruction. Slot 0 carries every write and
// exec() in submission order (one pipeline: completions come back in that order); reads
// and transactions use slots 1..pool_size-1 (a transaction reserves its slot until it
// ends); with pool_size 1 everything shares slot 0 and a transaction holds it, so other
// statements wait in `waiting_` as they wait for SQLite's writer.
//
// Completions. A connection settles each finished request with the Front at once (no
// user code), queueing its callback; callbacks run when the connection's event handler
// unwinds (or in the next pending phase when the completion did not come from one), so a
// callback that destroys the Database, or submits more, never runs inside libpq
// processing nor inside the call that started it. Connections are deleted only outside
// their own handlers.
#pragma once

#include "db/close_protocol.hpp"
#include "db/front_database.hpp"

#include <weft/db/database.hpp>
#include <weft/histogram.hpp>
#include <weft/net/dns.hpp>
#include <weft/io_watcher.hpp>
#include <weft/loop.hpp>
#include <weft/timer.hpp>

#include <libpq-fe.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace weft::db::pg {

// What open() parsed: libpq's connection keywords (from the URL, plus weft's settings).
struct Spec {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::string where;  // "host:port/dbname" for messages
  // A host name libpq would resolve with a blocking getaddrinfo: resolved by net's
  // resolver (weft/net/dns.hpp) before each connect and passed as hostaddr. Empty: numeric, a
  // socket path, several.
  std::string resolve_host;
  Options options;
};
Spec parse_url(std::string_view url, Options options);  // throws Error(bad_url)

struct Counters {
  std::uint64_t reads = 0;
  std::uint64_t writes = 0;
  std::uint64_t prepares = 0;
  std::uint64_t cache_hits = 0;
  std::uint64_t connections_opened = 0;
  std::uint64_t connections_lost = 0;
  std::size_t max_depth = 0;
};

enum class Route : unsigned char { writer, read, tx, begin };

struct CachedStatement {
  std::string name;
  bool failed = false;  // its Parse failed: the name never existed on the server
  std::optional<Error> error;
};

// One unit sent to a connection: a statement, a script, a control command (BEGIN,
// COMMIT, DEALLOCATE; no parameters) or a bare sync point (ready()).
struct Request {
  enum class Kind : unsigned char { statement, script, control, sync, group };
  enum class Command : unsigned char { prepare, execute };
  struct GroupCommand {
    int member;  // index in members; -1: the group's own BEGIN or COMMIT
    Command command;
  };
  Kind kind = Kind::statement;
  Route route = Route::writer;
  std::string sql;   // as given, for messages
  std::string text;  // as sent ($n parameters)
  Params params;
  std::uint64_t tx = 0;
  bool ends_tx = false;            // COMMIT or ROLLBACK of transaction `tx`
  std::uint64_t after_writes = 0;  // BEGIN: sent once this many writes have finished
  bool commit = false;
  Callback<ResultSet> done;  // null for weft's own requests
  // While in flight.
  std::shared_ptr<CachedStatement> stmt;
  std::vector<Command> commands;  // in send order; results arrive in that order
  std::size_t command_index = 0;
  std::optional<ResultSet> result;
  std::optional<Error> error;
  TimePoint sent_at{};
  bool replan = false;     // its cached plan went stale (the table changed shape)
  bool replanned = false;  // sent a second time for that reason
  // Cancellation (database.hpp): the token's callback takes it back while it waits, or
  // asks for a cancel request once it (or its group) heads its connection's pipeline.
  CancelRegistration cancel_reg;
  bool cancel_wanted = false;  // its token (a group: a member's) fired while in flight
  bool cancel_sent = false;    // a cancel request went out for it
  bool stray = false;          // cancelled by a request meant for another statement
  // Group commit: an autocommit write that may share a group's transaction; for a group
  // (Kind::group) its writes, and whose result each command sent will produce.
  bool groupable = false;
  bool aborted = false;  // not run: an earlier error in its sync group aborted it
  bool settled = false;  // a group member that failed on its own: kept, not sent again
  std::vector<std::unique_ptr<Request>> members;
  std::vector<GroupCommand> group_commands;
};

// Group commit figures; written on the loop, read from any thread.
struct GroupCounters {
  std::atomic<std::uint64_t> groups{0};
  std::atomic<std::uint64_t> grouped_writes{0};
  Histogram group_size;
  Histogram group_ns;  // sent to answered; the server answers at the sync, after COMMIT
  void record(std::size_t size, Duration took) noexcept;
};

class Front;
struct EncodedParams;

class Connection {
 public:
  Connection(Front& front, std::size_t slot);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  enum class State : unsigned char { disconnected, connecting, ready };
  State state() const noexcept { return state_; }
  std::size_t slot() const noexcept { return slot_; }
  std::size_t load() const noexcept { return pending_.size() + inflight_.size(); }
  std::size_t in_flight() const noexcept { return inflight_.size(); }

  // Takes a request; connects first if needed; sends when the pipeline has room.
  void enqueue(std::unique_ptr<Request> r);
  // Starts connecting if disconnected.
  void connect() {
    if (state_ == State::disconnected) start_connect();
  }
  // Requests not sent yet, taken back (destruction cancels them).
  std::deque<std::unique_ptr<Request>> take_pending() noexcept;
  // Asks the server to cancel the statement running now (PQcancel on the pool).
  void cancel_running();
  // A request's token fired: taken back if not sent yet (else null); if in flight,
  // marked, and a cancel request is sent once it heads the pipeline (true).
  std::unique_ptr<Request> take_request(const Request& r) noexcept;
  bool cancel_in_flight(Request& r);
  // Stops watching and closes the PGconn (nothing may be in flight that matters).
  void shut_down() noexcept;

  std::uint64_t reserved_tx = 0;  // the transaction holding this slot, 0: none

 private:
  void start_connect();
  void resolve();
  void open_conn(const std::string& hosts, const std::string& hostaddrs);
  void connect_step();
  void on_connected();
  void fail_connect(const std::string& why);
  void watch(unsigned events, bool fresh);
  void on_io(unsigned events);
  void on_timer();
  void send_more();
  bool send(Request& r);
  bool send_statement(Request& r);
  bool send_commands(Request& r, const EncodedParams& p);
  void read_results();
  void on_result(PGresult* res);
  void apply_result(Request& r, bool is_prepare, PGresult* res);
  // Group commit (pg_group.cpp).
  std::unique_ptr<Request> take_next();
  bool send_group(Request& g);
  void on_group_result(Request& g, PGresult* res);
  void finish_group(std::unique_ptr<Request> g);
  void retry_group(std::unique_ptr<Request> g);
  void complete_members(Request& g, const Error* instead);
  void on_script_result(PGresult* res);
  void finish_head();
  void lose(std::error_code code, const std::string& why);
  void flush();
  void refresh_timer();
  void update_ref();
  bool send_cancel_request();  // PQgetCancel here, PQcancel on the pool; false if impossible
  void cancel_head_if_wanted();
  void retry_cancel(const Request* target);
  std::shared_ptr<CachedStatement> cache_lookup(const std::string& key, bool& hit);
  void forget(const std::shared_ptr<CachedStatement>& stmt);
  void send_deallocate(const std::string& name);
  Error result_error(const PGresult* res, const Request& r) const;
  bool stray_cancel(const PGresult* res, const Request& r) const;

  Front& front_;
  std::size_t slot_;
  PGconn* conn_ = nullptr;
  State state_ = State::disconnected;
  std::unique_ptr<IoWatcher> watcher_;
  std::vector<std::unique_ptr<IoWatcher>> retired_watchers_;  // replaced, maybe still running
  Timer timer_;
  // Repeats a cancel request while its statement still heads the pipeline: a request
  // that reaches the server between two of its protocol messages is ignored by it.
  Timer cancel_timer_;
  Duration cancel_retry_{};
  std::deque<std::unique_ptr<Request>> pending_;
  std::deque<std::unique_ptr<Request>> inflight_;
  // Prepared statements: most recently used first; key: SQL + parameter types.
  using CacheEntry = std::pair<std::string, std::shared_ptr<CachedStatement>>;
  std::list<CacheEntry> lru_;
  std::unordered_map<std::string, std::list<CacheEntry>::iterator> index_;
  std::uint64_t next_name_ = 0;
  bool script_running_ = false;
  bool cancel_requested_ = false;
  std::uint64_t connect_attempt_ = 0;
  net::ResolveHandle resolving_;  // the host name lookup in flight (see resolve())
  std::shared_ptr<int> life_ = std::make_shared<int>(0);  // weak refs: pool completions
};

class Front : public std::enable_shared_from_this<Front> {
 public:
  Front(Loop& loop, Spec spec);
  ~Front();
  Front(const Front&) = delete;
  Front& operator=(const Front&) = delete;

  void start();
  void submit(std::string sql, Params params, bool writer_only, Callback<ResultSet> cb,
              CancelToken token);
  void begin(Callback<std::unique_ptr<Transaction>> cb);
  void tx_submit(std::uint64_t tx, std::string sql, Params params, Callback<ResultSet> cb,
                 CancelToken token);
  void tx_finish(std::uint64_t tx, bool commit, Callback<void> cb);
  void ready(Callback<void> cb);
  void close(Callback<void> cb);
  void destroy() noexcept;
  Stats stats() const;
  GroupStats group_stats() const;  // any thread

  // ---- for connections ----
  // Settles a finished request (counters, transaction state) and queues its callback.
  void complete(std::unique_ptr<Request> r, Outcome<ResultSet> out);
  // A connection's load or state changed: dispatch waiting requests, check close.
  void connection_changed(Connection& c);
  void connection_lost(Connection& c);
  // Brackets a connection's event handler: callbacks run when the outermost one ends.
  class Scope {
   public:
    explicit Scope(Front& f) : front_(f.shared_from_this()) { ++front_->busy_; }
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    std::shared_ptr<Front> front_;
  };

  Loop& loop;
  const Spec spec;
  Counters counters;
  GroupCounters group_counters;
  bool dead() const noexcept { return dead_; }

 private:
  std::unique_ptr<Request> make_request(Route route, std::string sql, Params params,
                                        Callback<ResultSet> cb);
  void watch_cancel(Request& r, const CancelToken& token);
  void cancel_request(Request& r);
  void dispatch(std::unique_ptr<Request> r);
  bool try_assign(std::unique_ptr<Request>& r);
  Connection* pick_slot(bool for_begin);
  Connection& open_slot(std::size_t i);
  void pump_waiting();
  void settle(const Request& r, const Outcome<ResultSet>& out);
  void end_tx(std::uint64_t tx);
  void fail_later(Callback<ResultSet> cb, Error e);
  void flush();
  void schedule_flush();
  void maybe_close();
  friend class detail::CloseProtocol;
  void close_step();  // CloseProtocol's check
  void retire(std::unique_ptr<Connection> c);
  void check_drained();
  std::size_t queued() const noexcept;

  struct TxState {
    std::size_t slot = 0;
    bool lost = false;  // its connection broke: statements fail, rollback succeeds
  };

  std::vector<std::unique_ptr<Connection>> slots_;  // null: never opened (or retired)
  std::deque<std::unique_ptr<Request>> waiting_;    // not assignable yet, in order
  std::unordered_map<std::uint64_t, TxState> txs_;
  std::deque<Function<void()>> ready_;  // callbacks to run
  detail::CloseProtocol closer_;
  std::shared_ptr<Front> self_;  // after destroy(): alive until in-flight work drains
  std::uint64_t next_tx_ = 0;
  std::uint64_t transactions_ = 0;
  std::uint64_t commits_ = 0;
  std::uint64_t rollbacks_ = 0;
  std::uint64_t writes_submitted_ = 0;  // writer-route requests, for BEGIN's ordering
  std::uint64_t writes_finished_ = 0;
  std::size_t waiting_writes_ = 0;  // in waiting_, by route: writes and begins keep order
  std::size_t waiting_begins_ = 0;
  int busy_ = 0;
  bool pumping_ = false;
  bool repump_ = false;
  bool flushing_ = false;
  bool flush_scheduled_ = false;
  bool dead_ = false;
};

using PgTransaction = detail::FrontTransaction<Front>;

// Values and errors (pg_values.cpp).
struct EncodedParams {
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  std::vector<std::string> texts;  // storage for numbers rendered as text
};
EncodedParams encode_params(const Params& params, std::string_view sql);  // throws Error
std::string type_signature(const Params& params);
ResultSet to_result_set(const PGresult* res);
Error make_error(const PGresult* res, std::string_view sql);
std::string shorten(std::string_view sql);
std::string trim_message(const char* msg);
using detail::closed_error;
using detail::CloseProtocol;
using detail::deliver_later;
Error canceled_error();

std::unique_ptr<Database> make_database(Loop& loop, Spec spec);

}  // namespace weft::db::pg
