// The PostgreSQL backend's routing: which connection runs a request, transactions'
// reservation of a connection, completions, close and destruction. See pg_backend.hpp.
#include "db/pg_backend.hpp"
#include "db/sql_lexer.hpp"

namespace weft::db::pg {
namespace {

Error transaction_misuse() {
  return Error(
      errc::misuse,
      "transaction control statements (BEGIN, START, COMMIT, ROLLBACK, SAVEPOINT outside a "
      "transaction) are not accepted: use Database::begin() or transaction()");
}

Error tx_gone() {
  return Error(errc::abort, "the transaction was rolled back (the database is closing)");
}

// Fills kind and text; an Error for a statement that cannot be sent as given.
std::optional<Error> prepare_text(Request& r, const sql::Info& info) {
  if (info.statements > 1) {
    if (!r.params.empty()) {
      return Error(errc::misuse, "a script of several statements cannot take parameters [in: " +
                                     shorten(r.sql) + "]");
    }
    r.kind = Request::Kind::script;
    r.text = r.sql;
    return std::nullopt;
  }
  int count = 0;
  r.text = sql::to_dollar_params(r.sql, count);
  if (count > 0 && static_cast<std::size_t>(count) != r.params.size()) {
    return Error(errc::range, "the statement takes " + std::to_string(count) + " parameter(s), " +
                                  std::to_string(r.params.size()) +
                                  " given [in: " + shorten(r.sql) + "]");
  }
  return std::nullopt;
}

std::unique_ptr<Request> control(Route route, std::uint64_t tx, std::string text) {
  auto r = std::make_unique<Request>();
  r->kind = Request::Kind::control;
  r->route = route;
  r->tx = tx;
  r->sql = text;
  r->text = std::move(text);
  return r;
}

Callback<ResultSet> to_unit(Callback<void> cb) {
  return [cb = std::move(cb)](Outcome<ResultSet>& out) mutable {
    if (!cb) return;
    if (out.ok()) {
      Outcome<void> ok;
      return cb(ok);
    }
    Outcome<void> failed(out.failure());
    cb(failed);
  };
}

}  // namespace

Front::Front(Loop& l, Spec s) : loop(l), spec(std::move(s)) {
  slots_.resize(spec.options.postgres.pool_size);
}

Front::~Front() = default;

Front::Scope::~Scope() {
  if (--front_->busy_ == 0) front_->flush();
}

void Front::start() { open_slot(0).connect(); }

Connection& Front::open_slot(std::size_t i) {
  if (!slots_[i]) slots_[i] = std::make_unique<Connection>(*this, i);
  return *slots_[i];
}

// ---- statements ----------------------------------------------------------------------

void Front::fail_later(Callback<ResultSet> cb, Error e) {
  ready_.push_back([cb = std::move(cb), out = Outcome<ResultSet>(std::move(e))]() mutable {
    if (cb) cb(out);
  });
  schedule_flush();
}

std::size_t Front::queued() const noexcept {
  std::size_t n = waiting_.size();
  for (const auto& c : slots_) {
    if (c) n += c->load() - c->in_flight();
  }
  return n;
}

void Front::submit(std::string sql, Params params, bool writer_only, Callback<ResultSet> cb,
                   CancelToken token) {
  if (closer_.closing() || dead_) return fail_later(std::move(cb), closed_error());
  sql::Info info = sql::classify(sql, sql::Dialect::postgres);
  if (info.kind == sql::Kind::transaction_control || info.kind == sql::Kind::savepoint) {
    return fail_later(std::move(cb), transaction_misuse());
  }
  const std::size_t limit = spec.options.postgres.max_queued;
  if (limit > 0 && queued() >= limit) {
    return fail_later(
        std::move(cb),
        Error(errc::full, "too many statements waiting (PostgresOptions::max_queued " +
                              std::to_string(limit) + ")"));
  }
  auto r = std::make_unique<Request>();
  r->route = writer_only || info.kind != sql::Kind::read ? Route::writer : Route::read;
  r->sql = std::move(sql);
  r->params = std::move(params);
  if (auto e = prepare_text(*r, info)) return fail_later(std::move(cb), std::move(*e));
  r->done = std::move(cb);
  const GroupCommit& group = spec.options.group_commit;
  r->groupable = r->route == Route::writer && info.dml && group.enabled && group.max_size > 1;
  if (r->route == Route::writer) ++writes_submitted_;
  watch_cancel(*r, token);
  dispatch(std::move(r));
}

void Front::watch_cancel(Request& r, const CancelToken& token) {
  if (!token.can_be_cancelled()) return;
  r.cancel_reg.attach(token, [weak = weak_from_this(), raw = &r] {
    if (auto f = weak.lock()) f->cancel_request(*raw);
  });
}

// Inside cancel() (user code, never inside a connection's handler): a request not sent
// yet completes with operation_canceled (its callback runs later, from ready_).
void Front::cancel_request(Request& r) {
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if (it->get() != &r) continue;
    std::unique_ptr<Request> req = std::move(*it);
    waiting_.erase(it);
    if (req->route == Route::writer) --waiting_writes_;
    return complete(std::move(req), Outcome<ResultSet>(detail::statement_canceled()));
  }
  for (auto& c : slots_) {
    if (!c) continue;
    if (std::unique_ptr<Request> req = c->take_request(r)) {
      return complete(std::move(req), Outcome<ResultSet>(detail::statement_canceled()));
    }
    if (c->cancel_in_flight(r)) return;
  }
}

void Front::dispatch(std::unique_ptr<Request> r) {
  const bool behind = (r->route == Route::writer && waiting_writes_ > 0) ||
                      (r->route == Route::begin && waiting_begins_ > 0);
  if (!behind && try_assign(r)) return;
  if (r->route == Route::writer) ++waiting_writes_;
  if (r->route == Route::begin) ++waiting_begins_;
  waiting_.push_back(std::move(r));
}

bool Front::try_assign(std::unique_ptr<Request>& r) {
  switch (r->route) {
    case Route::tx: {
      auto it = txs_.find(r->tx);
      open_slot(it->second.slot).enqueue(std::move(r));
      return true;
    }
    case Route::writer:
      if (slots_[0] && slots_[0]->reserved_tx) return false;
      open_slot(0).enqueue(std::move(r));
      return true;
    case Route::read: {
      Connection* c = pick_slot(false);
      if (!c) return false;
      c->enqueue(std::move(r));
      return true;
    }
    case Route::begin: {
      if (writes_finished_ < r->after_writes) return false;  // it must see earlier writes
      Connection* c = pick_slot(true);
      if (!c) return false;
      c->reserved_tx = r->tx;
      txs_[r->tx] = TxState{c->slot(), false};
      c->enqueue(std::move(r));
      return true;
    }
  }
  return false;
}

// Reads and transactions: slots 1.. (slot 0 when it is the only one). An idle connection
// first, then a new one while the pool has room, then the least loaded (pipelined).
Connection* Front::pick_slot(bool for_begin) {
  const std::size_t n = slots_.size();
  Connection* best = nullptr;
  std::size_t unopened = n;
  for (std::size_t i = n > 1 ? 1 : 0; i < n; ++i) {
    Connection* c = slots_[i].get();
    if (!c) {
      unopened = std::min(unopened, i);
    } else if (!c->reserved_tx && (!best || c->load() < best->load())) {
      best = c;
    }
  }
  if (best && best->load() == 0) return best;
  if (unopened < n) return &open_slot(unopened);
  if (best) return best;
  if (!for_begin && n > 1 && !(slots_[0] && slots_[0]->reserved_tx)) return &open_slot(0);
  return nullptr;
}

void Front::pump_waiting() {
  if (pumping_) {
    repump_ = true;
    return;
  }
  pumping_ = true;
  do {
    repump_ = false;
    std::deque<std::unique_ptr<Request>> waiting = std::move(waiting_);
    waiting_.clear();
    waiting_writes_ = 0;
    waiting_begins_ = 0;
    for (auto& r : waiting) dispatch(std::move(r));
  } while (repump_ && !dead_);
  pumping_ = false;
}

// ---- completions ---------------------------------------------------------------------

void Front::complete(std::unique_ptr<Request> r, Outcome<ResultSet> out) {
  settle(*r, out);
  ready_.push_back([done = std::move(r->done), out = std::move(out)]() mutable {
    if (done) done(out);
  });
  schedule_flush();
  maybe_close();
}

void Front::settle(const Request& r, const Outcome<ResultSet>& out) {
  if (r.kind == Request::Kind::statement || r.kind == Request::Kind::script) {
    ++(r.route == Route::read ? counters.reads : counters.writes);
  }
  if (r.route == Route::writer && r.done) ++writes_finished_;
  if (r.route == Route::begin) {
    if (out.ok() && txs_.count(r.tx)) {
      ++transactions_;
    } else {
      end_tx(r.tx);
    }
  } else if (r.ends_tx && txs_.count(r.tx)) {
    ++(r.commit && out.ok() ? commits_ : rollbacks_);
    end_tx(r.tx);
  }
}

void Front::end_tx(std::uint64_t tx) {
  auto it = txs_.find(tx);
  if (it == txs_.end()) return;
  if (Connection* c = slots_[it->second.slot].get(); c && c->reserved_tx == tx) c->reserved_tx = 0;
  txs_.erase(it);
}

void Front::schedule_flush() {
  if (busy_ > 0 || flushing_ || flush_scheduled_ || ready_.empty()) return;
  flush_scheduled_ = true;
  loop.defer([self = shared_from_this()] {
    self->flush_scheduled_ = false;
    self->flush();
  });
}

// Runs queued callbacks, each as a loop callback (an exception goes to the loop's
// handler; microtasks, where coroutines resume, are drained after each).
void Front::flush() {
  if (flushing_) return;
  std::shared_ptr<Front> keep = shared_from_this();
  flushing_ = true;
  while (!ready_.empty()) {
    Function<void()> fn = std::move(ready_.front());
    ready_.pop_front();
    weft::detail::LoopAccess::call(loop, [&fn] { fn(); });
  }
  flushing_ = false;
}

void Front::connection_changed(Connection& c) {
  if (dead_) {
    if (slots_[c.slot()].get() == &c && c.load() == 0) retire(std::move(slots_[c.slot()]));
    return check_drained();
  }
  pump_waiting();
  maybe_close();
}

void Front::connection_lost(Connection& c) {
  if (!c.reserved_tx) return;
  auto it = txs_.find(c.reserved_tx);
  if (it != txs_.end()) it->second.lost = true;
}

// Deleted later, outside whatever handler of it may be running.
void Front::retire(std::unique_ptr<Connection> c) {
  if (!c) return;
  c->shut_down();
  loop.defer([c = std::move(c)]() mutable { c.reset(); });
}

void Front::check_drained() {
  for (const auto& c : slots_) {
    if (c) return;
  }
  std::shared_ptr<Front> keep = std::move(self_);  // may be the last reference
}

// ---- transactions --------------------------------------------------------------------

void Front::begin(Callback<std::unique_ptr<Transaction>> cb) {
  using TxOutcome = Outcome<std::unique_ptr<Transaction>>;
  if (closer_.closing() || dead_) {
    ready_.push_back([cb = std::move(cb)]() mutable {
      TxOutcome out(closed_error());
      cb(out);
    });
    return schedule_flush();
  }
  const std::uint64_t id = ++next_tx_;
  auto r = control(Route::begin, id, "BEGIN");
  r->after_writes = writes_submitted_;
  r->done = [weak = weak_from_this(), id, cb = std::move(cb),
             &l = loop](Outcome<ResultSet>& out) mutable {
    if (!out.ok()) {
      TxOutcome failed(out.failure());
      return cb(failed);
    }
    auto f = weak.lock();
    if (!f || f->dead_) {  // its connection closes with the database, which rolls back
      TxOutcome failed(closed_error());
      return cb(failed);
    }
    TxOutcome ok(std::unique_ptr<Transaction>(new PgTransaction(l, weak, id)));
    cb(ok);  // dropped unused here: rolled back by its destructor
  };
  dispatch(std::move(r));
}

void Front::tx_submit(std::uint64_t tx, std::string sql, Params params, Callback<ResultSet> cb,
                      CancelToken token) {
  if (dead_) return fail_later(std::move(cb), closed_error());
  auto it = txs_.find(tx);
  if (it == txs_.end()) return fail_later(std::move(cb), tx_gone());
  if (it->second.lost) {
    return fail_later(std::move(cb),
                      Error(errc::abort, "the transaction's connection was lost; roll it back"));
  }
  sql::Info info = sql::classify(sql, sql::Dialect::postgres);
  if (info.kind == sql::Kind::transaction_control)
    return fail_later(std::move(cb), transaction_misuse());
  auto r = std::make_unique<Request>();
  r->route = Route::tx;
  r->tx = tx;
  r->sql = std::move(sql);
  r->params = std::move(params);
  if (auto e = prepare_text(*r, info)) return fail_later(std::move(cb), std::move(*e));
  r->done = std::move(cb);
  watch_cancel(*r, token);
  dispatch(std::move(r));
}

void Front::tx_finish(std::uint64_t tx, bool commit, Callback<void> cb) {
  if (dead_) {
    if (cb) fail_later(to_unit(std::move(cb)), closed_error());
    return;
  }
  auto it = txs_.find(tx);
  if (it == txs_.end() || it->second.lost) {  // rolled back already (close, lost connection)
    if (it != txs_.end()) {
      ++rollbacks_;
      end_tx(tx);
    }
    if (!cb) return;
    if (!commit) {
      auto r = std::make_unique<Request>();
      r->done = to_unit(std::move(cb));
      return complete(std::move(r), Outcome<ResultSet>(ResultSet{}));
    }
    return fail_later(
        to_unit(std::move(cb)),
        it == txs_.end() ? tx_gone() : Error(errc::abort, "the transaction's connection was lost"));
  }
  auto r = control(Route::tx, tx, commit ? "COMMIT" : "ROLLBACK");
  r->ends_tx = true;
  r->commit = commit;
  r->done = to_unit(std::move(cb));
  dispatch(std::move(r));
}

// ---- ready, close, destruction -------------------------------------------------------

void Front::ready(Callback<void> cb) {
  if (closer_.closing() || dead_) return fail_later(to_unit(std::move(cb)), closed_error());
  auto r = std::make_unique<Request>();
  r->kind = Request::Kind::sync;
  r->route = Route::writer;
  r->done = to_unit(std::move(cb));
  ++writes_submitted_;
  dispatch(std::move(r));
}

void Front::close(Callback<void> cb) {
  if (dead_) return fail_later(to_unit(std::move(cb)), closed_error());
  closer_.request(loop, std::move(cb));
  maybe_close();
}

void Front::maybe_close() {
  if (!dead_) closer_.check(*this);
}

void Front::close_step() {
  if (dead_ || !waiting_.empty()) return;
  for (const auto& c : slots_) {
    if (c && c->load() > 0) return;
  }
  if (!txs_.empty()) {  // idle transactions left open: roll them back first
    std::vector<std::uint64_t> ids;
    ids.reserve(txs_.size());
    for (const auto& [id, state] : txs_) ids.push_back(id);
    for (std::uint64_t id : ids) tx_finish(id, false, Callback<void>());
    return maybe_close();
  }
  closer_.shutting_down();
  for (auto& c : slots_) c.reset();  // from a deferred callback: no handler of theirs runs
  for (auto& cb : closer_.finish()) {
    ready_.push_back([cb = std::move(cb)]() mutable { CloseProtocol::succeed(cb); });
  }
  schedule_flush();
}

void Front::destroy() noexcept {
  dead_ = true;
  std::deque<std::unique_ptr<Request>> canceled = std::move(waiting_);
  waiting_.clear();
  for (auto& c : slots_) {
    if (!c) continue;
    for (auto& r : c->take_pending()) canceled.push_back(std::move(r));
  }
  for (auto& r : canceled) complete(std::move(r), Outcome<ResultSet>(canceled_error()));
  for (auto& cb : closer_.take_callbacks()) {
    ready_.push_back([cb = std::move(cb)]() mutable { CloseProtocol::succeed(cb); });
  }
  bool draining = false;
  for (auto& c : slots_) {
    if (c && c->in_flight() > 0) {
      c->cancel_running();  // they finish (or are canceled) and report their real outcome
      draining = true;
    } else if (c && busy_ == 0 && !flushing_) {
      c.reset();  // not inside one of its handlers: closed now
    } else if (c) {
      retire(std::move(c));
    }
  }
  if (draining) self_ = shared_from_this();
  schedule_flush();
}

Stats Front::stats() const {
  Stats s;
  s.reads = counters.reads;
  s.writes = counters.writes;
  s.prepares = counters.prepares;
  s.statement_cache_hits = counters.cache_hits;
  s.connections_opened = counters.connections_opened;
  s.connections_lost = counters.connections_lost;
  s.max_pipeline_depth = counters.max_depth;
  s.transactions = transactions_;
  s.commits = commits_;
  s.rollbacks = rollbacks_;
  s.queued_writes = waiting_writes_ + (slots_[0] ? slots_[0]->load() : 0);
  GroupStats g = group_stats();
  s.groups = g.groups;
  s.grouped_writes = g.grouped_writes;
  s.group_size = g.group_size;
  s.commit_ns = g.commit_ns;
  s.group_ns = g.group_ns;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (!slots_[i]) continue;
    if (i > 0) s.reads_in_flight += slots_[i]->in_flight();
    if (slots_[i]->state() == Connection::State::ready) ++s.connections_open;
  }
  return s;
}

std::unique_ptr<Database> make_database(Loop& loop, Spec spec) {
  return std::make_unique<detail::FrontDatabase<Front>>(loop, "postgres", std::move(spec));
}

}  // namespace weft::db::pg
