// The SQLite backend's two halves.
//
// Core (pool side): the connections. One writer, opened by the first writer job and used
// by one writer job at a time; reader connections checked out of a mutex-protected free
// list per job (so there are at most as many as reads ran concurrently: the slow class's
// limit). Jobs hold the Core through a shared_ptr and drop it on the pool thread at the
// end of their work, so the last one out closes the connections there.
//
// Front (loop side): routing and ordering. Writes wait in a FIFO; at most one writer job
// is on the pool at a time and the next is submitted when it completes, so writes run in
// submission order without holding a pool thread while they wait. Group commit: when the
// FIFO's front holds several groupable writes (StatementOp::groupable), the next job is a
// GroupOp that runs them all in one transaction (sqlite_group.cpp); a lone one runs alone. An
// active transaction owns the writer: only its statements (a second FIFO) run until it finishes.
// Reads go straight to the pool. Every completion first settles the Front's state (no user code),
// then submits the next write, then calls the user's callback — so a callback that
// destroys the Database or throws leaves a consistent Front behind.
#pragma once

#include "db/close_protocol.hpp"
#include "db/front_database.hpp"
#include "db/sqlite_connection.hpp"

#include <weft/db/database.hpp>
#include <weft/loop.hpp>
#include <weft/pool.hpp>
#include <weft/timer.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace weft::db::sqlite {

class Core {
 public:
  Core(OpenSpec spec, std::shared_ptr<Counters> counters)
      : spec_(std::move(spec)), counters_(std::move(counters)) {}
  ~Core() { close_all(); }
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // Writer jobs only (one at a time). Opens the writer on first use; an open failure is
  // remembered and thrown again by every later call.
  Connection& writer();
  std::unique_ptr<Connection> checkout_reader();  // throws Error
  void checkin_reader(std::unique_ptr<Connection> conn);
  void close_all() noexcept;

  Counters& counters() noexcept { return *counters_; }

 private:
  OpenSpec spec_;
  std::shared_ptr<Counters> counters_;
  std::unique_ptr<Connection> writer_;
  std::optional<Error> open_error_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;
};

// One job of the writer lane.
class WriteOp {
 public:
  virtual ~WriteOp() = default;
  virtual void run(Core& core) noexcept = 0;  // pool thread
  virtual void settle() = 0;                  // loop thread, after run: Front bookkeeping
  virtual void deliver() = 0;                 // loop thread, after settle: the user callback
  virtual void fail(Error e) = 0;             // loop thread, instead of run: the callback
  std::uint64_t tx = 0;                       // 0, or the transaction it belongs to
};

template <class T>
class FnOp final : public WriteOp {
 public:
  using Work = Function<Outcome<T>(Core&)>;
  using Settle = Function<void(Outcome<T>&)>;
  FnOp(Work work, Settle settle, Callback<T> cb)
      : work_(std::move(work)), settle_(std::move(settle)), cb_(std::move(cb)) {}

  void run(Core& core) noexcept override {
    try {
      out_.emplace(work_(core));
    } catch (...) {
      out_.emplace(to_error(std::current_exception()));
    }
  }
  void settle() override {
    if (settle_) settle_(*out_);
  }
  void deliver() override {
    if (cb_) cb_(*out_);
  }
  void fail(Error e) override {
    out_.emplace(std::move(e));
    if (cb_) cb_(*out_);
  }

 private:
  Work work_;
  Settle settle_;
  Callback<T> cb_;
  std::optional<Outcome<T>> out_;
};

// One statement on the writer (a transaction's, or an autocommit write). `groupable`: a
// single data change outside a transaction, which a GroupOp may run inside its group.
class StatementOp final : public WriteOp {
 public:
  StatementOp(std::string sql, Params params, Callback<ResultSet> cb, bool groupable) noexcept
      : sql_(std::move(sql)),
        params_(std::move(params)),
        cb_(std::move(cb)),
        groupable_(groupable) {}

  bool groupable() const noexcept { return groupable_; }
  void run(Core& core) noexcept override;  // alone (its own autocommit, or in tx)
  void settle() override {}
  void deliver() override {
    cancel_reg.detach();
    if (cb_) cb_(*out_);
  }
  void fail(Error e) override {
    out_.emplace(std::move(e));
    deliver();
  }

 private:
  friend class GroupOp;
  ResultSet execute(Connection& w);  // under `interrupt` when there is one
  std::string sql_;
  Params params_;
  Callback<ResultSet> cb_;
  std::optional<Outcome<ResultSet>> out_;
  bool groupable_;

 public:
  // Cancellation (loop side; null/unattached without a token): the token's callback
  // removes the op from its FIFO, or interrupts it while it runs.
  std::shared_ptr<Interrupt> interrupt;
  CancelRegistration cancel_reg;
};

// A group commit: its statements in one transaction, one SAVEPOINT each (see
// GroupCommit in database.hpp). run() leaves every member with its outcome: its result
// if it succeeded and the COMMIT did, else its own error, or the COMMIT's.
class GroupOp final : public WriteOp {
 public:
  explicit GroupOp(std::vector<std::shared_ptr<StatementOp>> members) noexcept
      : members_(std::move(members)) {}
  void run(Core& core) noexcept override;  // sqlite_group.cpp
  void settle() override {}
  void deliver() override;  // each member's callback, in submission order
  void fail(Error e) override;

 private:
  bool apply_all(Connection& w);  // false: the transaction was lost part-way
  void commit(Connection& w, Counters& counters);
  void fail_pending(const Error& e);
  std::vector<std::shared_ptr<StatementOp>> members_;
};

using detail::closed_error;
using detail::CloseProtocol;
using detail::deliver_later;

struct ReadRequest;

class Front : public std::enable_shared_from_this<Front> {
 public:
  Front(Loop& loop, OpenSpec spec);
  Front(const Front&) = delete;
  Front& operator=(const Front&) = delete;

  void start();  // queues the opening of the writer
  void submit(std::string sql, Params params, bool writer_only, Callback<ResultSet> cb,
              CancelToken token);
  void begin(Callback<std::unique_ptr<Transaction>> cb);
  void tx_submit(std::uint64_t tx, std::string sql, Params params, Callback<ResultSet> cb,
                 CancelToken token);
  void tx_finish(std::uint64_t tx, bool commit, Callback<void> cb);
  void ready(Callback<void> cb);
  void close(Callback<void> cb);
  void destroy() noexcept;  // the Database is being destroyed
  Stats stats() const;
  GroupStats group_stats() const;  // any thread: atomics and histogram snapshots only

  Loop& loop;

 private:
  struct WaitingRead {
    std::string sql;
    Params params;
    Callback<ResultSet> cb;
    CancelToken token;
  };

  void enqueue_statement(std::uint64_t tx, std::string sql, Params params, Callback<ResultSet> cb,
                         CancelToken token, bool dml = false);
  // The token of a statement on the writer fired: removed if queued, else interrupted.
  void cancel_write(StatementOp& op);
  void push(std::shared_ptr<WriteOp> op);
  void pump();
  // The next op for the writer from general_: a GroupOp of the groupable statements at its
  // front (up to max_size), or its front op; null while a group waits for company.
  std::shared_ptr<WriteOp> next_general();
  std::size_t groupable_at_front() const noexcept;
  static void write_done(const std::weak_ptr<Front>& weak, WriteOp& op, bool ran,
                         std::error_code ec);
  void read(std::string sql, Params params, Callback<ResultSet> cb, CancelToken token);
  static void read_done(const std::shared_ptr<Front>& f, ReadRequest& req,
                        Result<Outcome<std::optional<ResultSet>>>& r);
  void open_settled(const Outcome<void>& r);
  void maybe_close();
  friend class detail::CloseProtocol;
  void close_step();  // CloseProtocol's check

  std::shared_ptr<Counters> counters_;
  std::shared_ptr<Core> core_;
  const bool single_connection_;
  const GroupCommit group_;
  std::unique_ptr<Timer> group_timer_;  // GroupCommit::max_wait > 0: the wait for company
  bool group_waiting_ = false;          // the timer runs for the write at the front
  bool group_wait_over_ = false;        // it fired: the group goes now
  std::deque<std::shared_ptr<WriteOp>> general_;
  std::deque<std::shared_ptr<WriteOp>> tx_ops_;
  std::vector<WaitingRead> waiting_reads_;  // reads issued before the writer opened
  CloseProtocol closer_;
  std::optional<Error> open_error_;
  std::uint64_t active_tx_ = 0;
  std::uint64_t next_tx_ = 0;
  std::uint64_t transactions_ = 0;
  std::uint64_t commits_ = 0;
  std::uint64_t rollbacks_ = 0;
  std::size_t reads_in_flight_ = 0;
  bool in_flight_ = false;  // a writer job is on the pool
  bool opened_ = false;
  bool dead_ = false;
};

using SqliteTransaction = detail::FrontTransaction<Front>;

std::unique_ptr<Database> make_database(Loop& loop, OpenSpec spec);

}  // namespace weft::db::sqlite
