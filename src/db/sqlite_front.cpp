// The SQLite backend's loop side: the writer FIFO, reads, transactions' ownership of the
// writer, close and destruction. See sqlite_backend.hpp.
#include "db/sql_lexer.hpp"
#include "db/sqlite_backend.hpp"

#include <weft/pool.hpp>

namespace weft::db::sqlite {
namespace {

Error canceled() {
  return Error(std::make_error_code(std::errc::operation_canceled),
               "the database was destroyed before the statement ran");
}

Error transaction_misuse() {
  return Error(errc::misuse,
               "transaction control statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT outside a "
               "transaction) are not accepted: use Database::begin() or transaction()");
}

// Checks a reader out for one job and back in at the end.
class ReaderLease {
 public:
  explicit ReaderLease(Core& core) : core_(core), conn_(core.checkout_reader()) {}
  ~ReaderLease() { core_.checkin_reader(std::move(conn_)); }
  ReaderLease(const ReaderLease&) = delete;
  ReaderLease& operator=(const ReaderLease&) = delete;
  Connection& operator*() const noexcept { return *conn_; }

 private:
  Core& core_;
  std::unique_ptr<Connection> conn_;
};

}  // namespace

// Shared by a read job's work (pool) and completion (loop), which never run at once.
// With a token: `interrupt` reaches the job, `handle` removes it while queued; both are
// released by the completion (the handle refers to the job that holds this request).
struct ReadRequest {
  std::string sql;
  Params params;
  Callback<ResultSet> cb;
  CancelToken token;
  std::shared_ptr<Interrupt> interrupt;
  WorkHandle handle;
  CancelRegistration cancel_reg;
};

Front::Front(Loop& l, OpenSpec spec)
    : loop(l),
      counters_(std::make_shared<Counters>()),
      single_connection_(spec.memory),
      group_(spec.options.group_commit) {
  core_ = std::make_shared<Core>(std::move(spec), counters_);
}

void Front::start() {
  auto work = [](Core& core) -> Outcome<void> {
    core.writer();
    return {};
  };
  auto settle = [weak = weak_from_this()](Outcome<void>& r) {
    if (auto f = weak.lock()) f->open_settled(r);
  };
  push(std::make_shared<FnOp<void>>(std::move(work), std::move(settle), Callback<void>()));
}

void Front::open_settled(const Outcome<void>& r) {
  opened_ = true;
  if (!r.ok()) open_error_ = r.failure();
  std::vector<WaitingRead> waiting = std::move(waiting_reads_);
  waiting_reads_.clear();
  for (auto& w : waiting)
    read(std::move(w.sql), std::move(w.params), std::move(w.cb), std::move(w.token));
}

// ---- statements ----------------------------------------------------------------------

void Front::submit(std::string sql, Params params, bool writer_only, Callback<ResultSet> cb,
                   CancelToken token) {
  if (closer_.closing() || dead_) return deliver_later(loop, std::move(cb), closed_error());
  sql::Info info = sql::classify(sql);
  if (info.kind == sql::Kind::transaction_control || info.kind == sql::Kind::savepoint) {
    return deliver_later(loop, std::move(cb), transaction_misuse());
  }
  if (writer_only || single_connection_ || info.kind != sql::Kind::read) {
    enqueue_statement(0, std::move(sql), std::move(params), std::move(cb), std::move(token),
                      info.dml);
  } else {
    read(std::move(sql), std::move(params), std::move(cb), std::move(token));
  }
}

void Front::enqueue_statement(std::uint64_t tx, std::string sql, Params params,
                              Callback<ResultSet> cb, CancelToken token, bool dml) {
  const bool groupable = tx == 0 && dml && group_.enabled && group_.max_size > 1;
  auto op =
      std::make_shared<StatementOp>(std::move(sql), std::move(params), std::move(cb), groupable);
  op->tx = tx;
  if (token.cancelled()) {
    loop.defer([op = std::move(op)] { op->fail(detail::statement_canceled()); });
    return;
  }
  if (token.can_be_cancelled()) {
    op->interrupt = std::make_shared<Interrupt>();
    op->cancel_reg.attach(token, [weak = weak_from_this(), raw = op.get()] {
      auto f = weak.lock();
      if (f) return f->cancel_write(*raw);
      raw->interrupt->cancel();  // the Database is gone; the op may still run
    });
  }
  push(std::move(op));
}

void Front::cancel_write(StatementOp& op) {
  for (auto* queue : {&general_, &tx_ops_}) {
    for (auto it = queue->begin(); it != queue->end(); ++it) {
      if (it->get() != &op) continue;
      std::shared_ptr<WriteOp> removed = std::move(*it);
      queue->erase(it);
      loop.defer([removed = std::move(removed)] { removed->fail(detail::statement_canceled()); });
      return pump();  // a group waiting for company may have lost its front
    }
  }
  op.interrupt->cancel();  // on the pool: interrupted if it runs
}

void Front::push(std::shared_ptr<WriteOp> op) {
  (op->tx ? tx_ops_ : general_).push_back(std::move(op));
  pump();
}

void Front::pump() {
  if (dead_ || in_flight_) return;
  auto& queue = active_tx_ ? tx_ops_ : general_;
  if (queue.empty()) return maybe_close();
  std::shared_ptr<WriteOp> op;
  if (active_tx_) {
    op = std::move(queue.front());
    queue.pop_front();
  } else {
    op = next_general();
    if (!op) return;  // waiting for company (GroupCommit::max_wait)
  }
  if (!core_) {  // closed (nothing should get here: close() refuses new statements)
    loop.defer([op = std::move(op)] { op->fail(closed_error()); });
    return pump();
  }
  in_flight_ = true;
  WriteOp* raw = op.get();
  std::shared_ptr<WriteOp> keep = op;
  std::error_code ec = queue_work(
      loop, WorkClass::slow,
      [core = core_, raw]() mutable {
        std::shared_ptr<Core> c = std::move(core);  // released here, on the pool thread
        raw->run(*c);
      },
      [weak = weak_from_this(), op = std::move(op)](Result<void>& r) {
        write_done(weak, *op, r.ok(), r.error());
      });
  if (ec) {  // the pool refused it: fail it later, then go on with the next one
    loop.defer([weak = weak_from_this(), keep = std::move(keep), ec] {
      write_done(weak, *keep, false, ec);
    });
  }
}

std::size_t Front::groupable_at_front() const noexcept {
  std::size_t n = 0;
  for (const auto& op : general_) {
    if (n == group_.max_size || op->tx != 0) break;
    auto* st = dynamic_cast<StatementOp*>(op.get());
    if (!st || !st->groupable()) break;
    ++n;
  }
  return n;
}

std::shared_ptr<WriteOp> Front::next_general() {
  const std::size_t n = groupable_at_front();
  if (n > 0 && n < group_.max_size && group_.max_wait.count() > 0 && !group_wait_over_) {
    if (!group_waiting_) {  // the front write waits at most max_wait for company
      group_waiting_ = true;
      if (!group_timer_) group_timer_ = std::make_unique<Timer>(loop);
      group_timer_->start(
          [weak = weak_from_this()] {
            auto f = weak.lock();
            if (!f) return;
            f->group_waiting_ = false;
            f->group_wait_over_ = true;
            f->pump();
          },
          std::chrono::duration_cast<Duration>(group_.max_wait));
    }
    return nullptr;
  }
  if (group_waiting_) group_timer_->stop();
  group_waiting_ = group_wait_over_ = false;
  if (n <= 1) {  // not groupable, or a lone write: it runs as its own autocommit
    std::shared_ptr<WriteOp> op = std::move(general_.front());
    general_.pop_front();
    return op;
  }
  std::vector<std::shared_ptr<StatementOp>> members;
  members.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    members.push_back(std::static_pointer_cast<StatementOp>(std::move(general_.front())));
    general_.pop_front();
  }
  return std::make_shared<GroupOp>(std::move(members));
}

void Front::write_done(const std::weak_ptr<Front>& weak, WriteOp& op, bool ran,
                       std::error_code ec) {
  std::shared_ptr<Front> f = weak.lock();  // held: the callback may destroy the Database
  if (f) f->in_flight_ = false;
  if (!ran) {
    if (f) f->pump();
    op.fail(Error(ec, "the statement was not run"));
    return;
  }
  op.settle();
  if (f) f->pump();
  op.deliver();
}

// A read waiting for the open is checked for cancellation when it is dispatched.
void Front::read(std::string sql, Params params, Callback<ResultSet> cb, CancelToken token) {
  if (!opened_) {
    waiting_reads_.push_back({std::move(sql), std::move(params), std::move(cb), std::move(token)});
    return;
  }
  if (open_error_) return deliver_later(loop, std::move(cb), *open_error_);
  if (token.cancelled()) return deliver_later(loop, std::move(cb), detail::statement_canceled());
  auto req = std::make_shared<ReadRequest>();
  req->sql = std::move(sql);
  req->params = std::move(params);
  req->cb = std::move(cb);
  if (token.can_be_cancelled()) req->interrupt = std::make_shared<Interrupt>();
  auto work = [core = core_, req]() mutable -> Outcome<std::optional<ResultSet>> {
    std::shared_ptr<Core> c = std::move(core);  // released here, on the pool thread
    try {
      ReaderLease reader(*c);
      Connection& conn = *reader;
      std::optional<ResultSet> rs =
          req->interrupt ? req->interrupt->run(
                               conn, [&] { return conn.run_if_readonly(req->sql, req->params); })
                         : conn.run_if_readonly(req->sql, req->params);
      if (rs) c->counters().reads.fetch_add(1, std::memory_order_relaxed);
      return rs;
    } catch (...) {
      return to_error(std::current_exception());
    }
  };
  auto done = [weak = weak_from_this(), req](Result<Outcome<std::optional<ResultSet>>>& r) {
    req->cancel_reg.detach();
    req->handle = WorkHandle();  // it refers to the job that holds req: break the cycle
    std::shared_ptr<Front> f = weak.lock();
    if (f) {
      --f->reads_in_flight_;
      f->maybe_close();
    }
    read_done(f, *req, r);
  };
  WorkHandle* handle = req->interrupt ? &req->handle : nullptr;
  std::error_code ec = queue_work(loop, WorkClass::slow, std::move(work), std::move(done), handle);
  if (ec) return deliver_later(loop, std::move(req->cb), Error(ec, "the pool refused the read"));
  ++reads_in_flight_;
  if (!req->interrupt) return;
  req->token = std::move(token);  // kept: a read that turns out to write takes it along
  req->cancel_reg.attach(req->token, [r = req.get()] {
    if (!r->handle.cancel()) r->interrupt->cancel();  // queued: removed; else interrupted
  });
}

void Front::read_done(const std::shared_ptr<Front>& f, ReadRequest& req,
                      Result<Outcome<std::optional<ResultSet>>>& r) {
  Callback<ResultSet> cb = std::move(req.cb);
  if (!r.ok()) {
    Outcome<ResultSet> out(Error(r.error(), "the statement was not run"));
    return cb(out);
  }
  Outcome<std::optional<ResultSet>>& o = r.value();
  if (!o.ok()) {
    Outcome<ResultSet> out(o.failure());
    return cb(out);
  }
  if (!o.value()) {  // it would write after all: to the writer, at the back of its FIFO
    if (f && !f->dead_) {
      return f->enqueue_statement(0, std::move(req.sql), std::move(req.params), std::move(cb),
                                  std::move(req.token));
    }
    Outcome<ResultSet> out(canceled());
    return cb(out);
  }
  Outcome<ResultSet> out(std::move(*o.value()));
  cb(out);
}

// ---- transactions --------------------------------------------------------------------

void Front::begin(Callback<std::unique_ptr<Transaction>> cb) {
  using TxOutcome = Outcome<std::unique_ptr<Transaction>>;
  if (closer_.closing() || dead_) return deliver_later(loop, std::move(cb), closed_error());
  std::uint64_t id = ++next_tx_;
  auto work = [](Core& core) -> Outcome<void> {
    core.writer().exec_simple("BEGIN IMMEDIATE");
    return {};
  };
  auto settle = [weak = weak_from_this(), id](Outcome<void>& r) {
    auto f = weak.lock();
    if (!f || f->dead_ || !r.ok()) return;
    f->active_tx_ = id;
    ++f->transactions_;
  };
  auto deliver = [weak = weak_from_this(), id, cb = std::move(cb),
                  &l = loop](Outcome<void>& r) mutable {
    if (!r.ok()) {
      TxOutcome out(r.failure());
      return cb(out);
    }
    auto f = weak.lock();
    if (!f || f->dead_) {  // the writer closes with the database, which rolls BEGIN back
      TxOutcome out(closed_error());
      return cb(out);
    }
    TxOutcome out(std::unique_ptr<Transaction>(new SqliteTransaction(l, weak, id)));
    cb(out);  // a Transaction dropped here, unused, is rolled back by its destructor
  };
  push(std::make_shared<FnOp<void>>(std::move(work), std::move(settle), std::move(deliver)));
}

void Front::tx_submit(std::uint64_t tx, std::string sql, Params params, Callback<ResultSet> cb,
                      CancelToken token) {
  if (dead_) return deliver_later(loop, std::move(cb), closed_error());
  if (active_tx_ != tx) {
    return deliver_later(
        loop, std::move(cb),
        Error(errc::abort, "the transaction was rolled back (the database is closing)"));
  }
  if (sql::classify(sql).kind == sql::Kind::transaction_control) {
    return deliver_later(loop, std::move(cb), transaction_misuse());
  }
  enqueue_statement(tx, std::move(sql), std::move(params), std::move(cb), std::move(token));
}

void Front::tx_finish(std::uint64_t tx, bool commit, Callback<void> cb) {
  if (dead_) {
    if (cb) deliver_later(loop, std::move(cb), closed_error());
    return;
  }
  if (active_tx_ != tx) {  // rolled back already, by close()
    if (!cb) return;
    if (!commit) {
      loop.defer([cb = std::move(cb)]() mutable {
        Outcome<void> ok;
        cb(ok);
      });
      return;
    }
    return deliver_later(
        loop, std::move(cb),
        Error(errc::abort, "the transaction was rolled back (the database is closing)"));
  }
  auto work = [commit](Core& core) -> Outcome<void> {
    Connection& w = core.writer();
    if (!w.in_transaction()) {
      if (!commit) return {};
      return Error(errc::abort,
                   "the transaction was rolled back by the database after an earlier error");
    }
    if (!commit) {
      w.exec_simple("ROLLBACK");
      return {};
    }
    try {
      w.exec_simple("COMMIT");
    } catch (...) {
      if (w.in_transaction()) {
        try {
          w.exec_simple("ROLLBACK");
        } catch (...) {  // the COMMIT error is the one to report
        }
      }
      throw;
    }
    return {};
  };
  auto settle = [weak = weak_from_this(), tx, commit](Outcome<void>& r) {
    auto f = weak.lock();
    if (!f || f->active_tx_ != tx) return;
    f->active_tx_ = 0;
    ++(commit && r.ok() ? f->commits_ : f->rollbacks_);
  };
  auto op = std::make_shared<FnOp<void>>(std::move(work), std::move(settle), std::move(cb));
  op->tx = tx;
  push(std::move(op));
}

// ---- open, close, destruction --------------------------------------------------------

void Front::ready(Callback<void> cb) {
  if (closer_.closing() || dead_) return deliver_later(loop, std::move(cb), closed_error());
  auto work = [](Core& core) -> Outcome<void> {
    core.writer();
    return {};
  };
  push(std::make_shared<FnOp<void>>(std::move(work), FnOp<void>::Settle(), std::move(cb)));
}

void Front::close(Callback<void> cb) {
  if (dead_) return deliver_later(loop, std::move(cb), closed_error());
  closer_.request(loop, std::move(cb));
  maybe_close();
}

void Front::maybe_close() {
  if (!dead_) closer_.check(*this);
}

void Front::close_step() {
  if (dead_) return;
  if (in_flight_ || !general_.empty() || !tx_ops_.empty() || reads_in_flight_ > 0) return;
  if (active_tx_) return tx_finish(active_tx_, false, Callback<void>());  // idle: roll back
  closer_.shutting_down();
  auto finish = [weak = weak_from_this()](Result<void>&) {
    auto f = weak.lock();
    if (!f) return;
    for (auto& cb : f->closer_.finish()) CloseProtocol::succeed(cb);
  };
  std::error_code ec = queue_work(
      loop, WorkClass::slow,
      [core = std::move(core_)]() mutable {
        core->close_all();
        core.reset();
      },
      finish);
  if (ec) {  // refused: the connections were closed with the job's work, here
    loop.defer([finish]() mutable {
      Result<void> ok;
      finish(ok);
    });
  }
}

void Front::destroy() noexcept {
  dead_ = true;
  group_timer_.reset();
  group_waiting_ = false;
  for (auto* queue : {&general_, &tx_ops_}) {
    for (auto& op : *queue) {
      if (auto* st = dynamic_cast<StatementOp*>(op.get())) st->cancel_reg.detach();
      loop.defer([op = std::move(op)] { op->fail(canceled()); });
    }
    queue->clear();
  }
  for (auto& w : waiting_reads_) deliver_later(loop, std::move(w.cb), canceled());
  waiting_reads_.clear();
  for (auto& cb : closer_.take_callbacks()) CloseProtocol::succeed_later(loop, std::move(cb));
  if (core_) {  // the connections close on the pool once the last job is done with them
    (void)queue_work(
        loop, WorkClass::slow, [core = std::move(core_)]() mutable { core.reset(); },
        [](Result<void>&) {});
  }
}

Stats Front::stats() const {
  Stats s;
  const Counters& c = *counters_;
  s.reads = c.reads.load(std::memory_order_relaxed);
  s.writes = c.writes.load(std::memory_order_relaxed);
  s.prepares = c.prepares.load(std::memory_order_relaxed);
  s.statement_cache_hits = c.cache_hits.load(std::memory_order_relaxed);
  s.connections_opened = c.connections_opened.load(std::memory_order_relaxed);
  s.transactions = transactions_;
  s.commits = commits_;
  s.rollbacks = rollbacks_;
  s.queued_writes = general_.size() + tx_ops_.size();
  GroupStats g = group_stats();
  s.groups = g.groups;
  s.grouped_writes = g.grouped_writes;
  s.group_size = g.group_size;
  s.commit_ns = g.commit_ns;
  s.group_ns = g.group_ns;
  s.reads_in_flight = reads_in_flight_;
  return s;
}

GroupStats Front::group_stats() const {
  const Counters& c = *counters_;
  GroupStats g;
  g.groups = c.groups.load(std::memory_order_relaxed);
  g.grouped_writes = c.grouped_writes.load(std::memory_order_relaxed);
  g.group_size = c.group_size.snapshot();
  g.commit_ns = c.commit_ns.snapshot();
  g.group_ns = c.group_ns.snapshot();
  return g;
}

}  // namespace weft::db::sqlite
