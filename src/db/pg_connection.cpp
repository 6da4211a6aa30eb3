// One PostgreSQL connection on the loop: non-blocking connect, pipeline mode, the
// prepared-statement cache, result processing, loss and the unresponsive-server guard.
// See pg_backend.hpp.
#include "db/pg_backend.hpp"

#include <weft/net/dns.hpp>
#include <weft/pool.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <span>

namespace weft::db::pg {
namespace {

// After query_timeout, the server cancels the statement itself; a connection that has
// not answered by then plus this grace is considered gone.
constexpr auto kUnresponsiveGrace = std::chrono::seconds(1);

void ignore_notice(void*, const char*) {}

struct CancelDeleter {
  void operator()(PGcancel* c) const noexcept { PQfreeCancel(c); }
};

}  // namespace

Connection::Connection(Front& front, std::size_t slot)
    : front_(front), slot_(slot), timer_(front.loop), cancel_timer_(front.loop) {
  timer_.set_label("postgres timer");
  cancel_timer_.set_label("postgres cancel retry");
  cancel_timer_.unref();  // the statement in flight keeps the loop alive
}

Connection::~Connection() {
  resolving_.cancel();  // its callback refers to this connection
  shut_down();
}

void Connection::enqueue(std::unique_ptr<Request> r) {
  pending_.push_back(std::move(r));
  if (state_ == State::disconnected) return start_connect();
  send_more();
}

// A group commit's member is looked for in its group (a group waits in pending_ when it
// is to run again after a failure).
std::unique_ptr<Request> Connection::take_request(const Request& r) noexcept {
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->get() == &r) {
      std::unique_ptr<Request> out = std::move(*it);
      pending_.erase(it);
      update_ref();
      return out;
    }
    auto& members = (*it)->members;
    auto m =
        std::find_if(members.begin(), members.end(), [&r](const auto& p) { return p.get() == &r; });
    if (m == members.end()) continue;
    std::unique_ptr<Request> out = std::move(*m);
    members.erase(m);
    return out;
  }
  return nullptr;
}

bool Connection::cancel_in_flight(Request& r) {
  for (auto& p : inflight_) {
    const bool member = std::any_of(p->members.begin(), p->members.end(),
                                    [&r](const auto& m) { return m.get() == &r && !m->settled; });
    if (p.get() != &r && !member) continue;
    r.cancel_wanted = true;
    p->cancel_wanted = true;  // a group: the cancel request goes out when it heads the pipeline
    cancel_head_if_wanted();
    return true;
  }
  return false;
}

// PostgreSQL cancels whatever the connection runs when the request arrives, so one is
// sent only for the head of the pipeline (the statement running or next to run).
void Connection::cancel_head_if_wanted() {
  cancel_timer_.stop();
  if (inflight_.empty()) return;
  Request& head = *inflight_.front();
  if (!head.cancel_wanted || head.cancel_sent) return;
  head.cancel_sent = send_cancel_request();
  if (!head.cancel_sent) return;
  cancel_retry_ = std::chrono::milliseconds(50);
  cancel_timer_.start([this, target = &head] { retry_cancel(target); }, cancel_retry_);
}

// Still the head and not answered: the server may have ignored the request (it arrived
// while the backend read the statement's next protocol message). Sent again, backing
// off to once a second.
void Connection::retry_cancel(const Request* target) {
  if (inflight_.empty() || inflight_.front().get() != target || !send_cancel_request()) return;
  cancel_retry_ = std::min<Duration>(cancel_retry_ * 2, std::chrono::seconds(1));
  cancel_timer_.start([this, target] { retry_cancel(target); }, cancel_retry_);
}

std::deque<std::unique_ptr<Request>> Connection::take_pending() noexcept {
  std::deque<std::unique_ptr<Request>> out = std::move(pending_);
  pending_.clear();
  update_ref();
  return out;
}

// ---- connecting ----------------------------------------------------------------------

void Connection::start_connect() {
  state_ = State::connecting;
  ++connect_attempt_;
  auto timeout = front_.spec.options.postgres.connect_timeout;
  if (timeout.count() > 0) timer_.start([this] { on_timer(); }, timeout);
  if (!front_.spec.resolve_host.empty()) return resolve();
  open_conn("", "");
}

// The host name is looked up by net's resolver of this loop (getaddrinfo on the pool's
// `slow` class; its cache and in-flight de-duplication are shared with every other user
// of the loop, e.g. HTTP clients). Every address found is handed to libpq (as
// host=name,name,... hostaddr=a1,a2,...), which tries them in turn as it would have.
void Connection::resolve() {
  const std::string& host = front_.spec.resolve_host;
  auto done = [this, host, life = std::weak_ptr<int>(life_), attempt = connect_attempt_](
                  std::error_code ec, std::span<const net::SocketAddress> found) {
    if (life.expired()) return;  // the connection is gone
    resolving_ = {};
    Front::Scope scope(front_);
    if (state_ != State::connecting || attempt != connect_attempt_ || conn_) return;
    if (ec) return fail_connect("cannot resolve host \"" + host + "\": " + ec.message());
    std::string hosts, addrs;
    for (const net::SocketAddress& a : found) {
      hosts += (hosts.empty() ? "" : ",") + host;
      addrs += (addrs.empty() ? "" : ",") + a.ip();
    }
    if (addrs.empty()) return fail_connect("cannot resolve host \"" + host + "\": no address");
    open_conn(hosts, addrs);
  };
  resolving_ = net::resolve(front_.loop, host, 0, std::move(done));
}

void Connection::open_conn(const std::string& hosts, const std::string& hostaddrs) {
  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (std::size_t i = 0; i < front_.spec.keys.size(); ++i) {
    if (!hosts.empty() && front_.spec.keys[i] == "host") continue;
    keys.push_back(front_.spec.keys[i].c_str());
    values.push_back(front_.spec.values[i].c_str());
  }
  if (!hosts.empty()) {
    keys.push_back("host");
    values.push_back(hosts.c_str());
    keys.push_back("hostaddr");
    values.push_back(hostaddrs.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectStartParams(keys.data(), values.data(), 0);
  if (!conn_) return fail_connect("out of memory");
  if (PQstatus(conn_) == CONNECTION_BAD) return fail_connect(trim_message(PQerrorMessage(conn_)));
  PQsetnonblocking(conn_, 1);
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  watch(io_event::writable, true);
}

void Connection::connect_step() {
  if (!conn_) return;  // still resolving
  switch (PQconnectPoll(conn_)) {
    case PGRES_POLLING_READING:
      return watch(io_event::readable, true);
    case PGRES_POLLING_WRITING:
      return watch(io_event::writable, true);
    case PGRES_POLLING_OK:
      return on_connected();
    default:
      return fail_connect(trim_message(PQerrorMessage(conn_)));
  }
}

void Connection::on_connected() {
  timer_.stop();
  if (!PQenterPipelineMode(conn_)) {
    return fail_connect("cannot enter pipeline mode: " + trim_message(PQerrorMessage(conn_)));
  }
  state_ = State::ready;
  ++front_.counters.connections_opened;
  watch(io_event::readable, true);
  send_more();
  front_.connection_changed(*this);
}

void Connection::fail_connect(const std::string& why) {
  std::string where = front_.spec.where;
  if (conn_ && PQhost(conn_)) {
    where = std::string(PQhost(conn_)) + ":" + (PQport(conn_) ? PQport(conn_) : "") + "/" +
            (PQdb(conn_) ? PQdb(conn_) : "");
  }
  Error e(errc::cant_open, "postgres: cannot connect to " + where + ": " + why);
  shut_down();
  std::deque<std::unique_ptr<Request>> failed = take_pending();
  for (auto& r : failed) front_.complete(std::move(r), Outcome<ResultSet>(e));
  front_.connection_changed(*this);
}

// The socket may change while connecting (libpq tries the next address): a fresh watcher
// for every connect step; the one replaced is kept until the next event, as it may be
// the one whose callback is running.
void Connection::watch(unsigned events, bool fresh) {
  const int fd = PQsocket(conn_);
  if (fresh || !watcher_ || watcher_->fd() != fd) {
    if (watcher_) {
      watcher_->stop();
      retired_watchers_.push_back(std::move(watcher_));
    }
    watcher_ = std::make_unique<IoWatcher>(front_.loop, fd);
    watcher_->set_label("postgres connection");
    if (watcher_->start(events, [this](unsigned ev) { on_io(ev); })) {
      return lose(make_error_code(errc::connection_lost), "cannot watch the socket");
    }
  } else if (watcher_->set_events(events)) {
    return lose(make_error_code(errc::connection_lost), "cannot watch the socket");
  }
  update_ref();
}

// Only a connection with work keeps the loop alive: an idle one is still watched (to
// notice the server closing it) but unreferenced.
void Connection::update_ref() {
  if (!watcher_) return;
  if (state_ == State::connecting || load() > 0) {
    watcher_->ref();
  } else {
    watcher_->unref();
  }
}

// ---- events --------------------------------------------------------------------------

void Connection::on_io(unsigned events) {
  Front::Scope scope(front_);
  retired_watchers_.clear();  // none of them is the one running now
  if (state_ == State::connecting) return connect_step();
  if (state_ != State::ready) return;
  if (events & io_event::writable) flush();
  if (state_ != State::ready) return;
  if (events & (io_event::readable | io_event::hangup | io_event::error)) {
    if (!PQconsumeInput(conn_)) {
      return lose(make_error_code(errc::connection_lost), trim_message(PQerrorMessage(conn_)));
    }
    read_results();
  }
}

void Connection::on_timer() {
  Front::Scope scope(front_);
  if (state_ == State::connecting) {
    auto ms = front_.spec.options.postgres.connect_timeout.count();
    return fail_connect("timed out after " + std::to_string(ms) + " ms");
  }
  if (state_ != State::ready || inflight_.empty()) return;
  auto limit = front_.spec.options.postgres.query_timeout + kUnresponsiveGrace;
  if (front_.loop.now() - inflight_.front()->sent_at >= limit) {
    return lose(std::make_error_code(std::errc::timed_out),
                "no answer from the server within the query timeout (" +
                    std::to_string(front_.spec.options.postgres.query_timeout.count()) +
                    " ms) plus 1 s; the connection was dropped");
  }
  refresh_timer();
}

void Connection::refresh_timer() {
  auto qt = front_.spec.options.postgres.query_timeout;
  if (state_ != State::ready) return;
  if (qt.count() <= 0 || inflight_.empty()) return timer_.stop();
  TimePoint due = inflight_.front()->sent_at + qt + kUnresponsiveGrace;
  Duration left = due > front_.loop.now() ? due - front_.loop.now() : Duration::zero();
  timer_.start([this] { on_timer(); }, left);
}

void Connection::flush() {
  int rc = PQflush(conn_);
  if (rc < 0)
    return lose(make_error_code(errc::connection_lost), trim_message(PQerrorMessage(conn_)));
  watch(io_event::readable | (rc == 1 ? io_event::writable : 0u), false);
}

// ---- sending -------------------------------------------------------------------------

void Connection::send_more() {
  if (state_ != State::ready) return;
  const std::size_t depth = front_.spec.options.postgres.pipeline_depth;
  bool sent = false;
  while (!pending_.empty() && !script_running_ && inflight_.size() < depth) {
    if (pending_.front()->kind == Request::Kind::script && !inflight_.empty()) break;
    // Group commit: writes gather while anything is in flight, then go as one group.
    if (pending_.front()->groupable && !inflight_.empty()) break;
    std::unique_ptr<Request> r = take_next();
    r->sent_at = front_.loop.now();
    bool ok = false;
    try {
      ok = send(*r);
    } catch (...) {  // a parameter that cannot be encoded: nothing was sent
      Error e = to_error(std::current_exception());
      front_.complete(std::move(r), Outcome<ResultSet>(std::move(e)));
      continue;
    }
    inflight_.push_back(std::move(r));
    sent = true;
    if (!ok)
      return lose(make_error_code(errc::connection_lost), trim_message(PQerrorMessage(conn_)));
  }
  front_.counters.max_depth = std::max(front_.counters.max_depth, inflight_.size());
  if (sent) {
    flush();
    refresh_timer();
  }
  update_ref();
}

bool Connection::send(Request& r) {
  switch (r.kind) {
    case Request::Kind::statement:
      return send_statement(r);
    case Request::Kind::control:
      r.commands = {Request::Command::execute};
      return PQsendQueryParams(conn_, r.text.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) &&
             PQpipelineSync(conn_);
    case Request::Kind::sync:
      return PQpipelineSync(conn_) != 0;
    case Request::Kind::script:
      if (!PQexitPipelineMode(conn_)) return false;
      script_running_ = true;
      return PQsendQuery(conn_, r.text.c_str()) != 0;
    case Request::Kind::group:
      return send_group(r);
  }
  return false;
}

bool Connection::send_statement(Request& r) {
  EncodedParams p = encode_params(r.params, r.sql);
  return send_commands(r, p) && PQpipelineSync(conn_);
}

// The statement's Parse (when not cached) and Bind/Execute, without a sync point.
bool Connection::send_commands(Request& r, const EncodedParams& p) {
  const int n = static_cast<int>(r.params.size());
  if (front_.spec.options.statement_cache_size == 0) {
    r.commands = {Request::Command::execute};
    return PQsendQueryParams(conn_, r.text.c_str(), n, p.types.data(), p.values.data(),
                             p.lengths.data(), p.formats.data(), 0) != 0;
  }
  bool hit = false;
  r.stmt = cache_lookup(r.text + '\x1f' + type_signature(r.params), hit);
  if (hit) {
    ++front_.counters.cache_hits;
  } else {
    ++front_.counters.prepares;
    r.commands.push_back(Request::Command::prepare);
    if (!PQsendPrepare(conn_, r.stmt->name.c_str(), r.text.c_str(), n, p.types.data()))
      return false;
  }
  r.commands.push_back(Request::Command::execute);
  return PQsendQueryPrepared(conn_, r.stmt->name.c_str(), n, p.values.data(), p.lengths.data(),
                             p.formats.data(), 0) != 0;
}

// Finds or creates the cache entry; an eviction deallocates the victim on the server in
// a sync group of its own (a failure there must not abort the next statement).
std::shared_ptr<CachedStatement> Connection::cache_lookup(const std::string& key, bool& hit) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    hit = true;
    return it->second->second;
  }
  hit = false;
  auto stmt = std::make_shared<CachedStatement>();
  stmt->name = "weft_" + std::to_string(++next_name_);
  lru_.emplace_front(key, stmt);
  index_[key] = lru_.begin();
  if (lru_.size() > front_.spec.options.statement_cache_size) {
    CacheEntry victim = std::move(lru_.back());
    lru_.pop_back();
    index_.erase(victim.first);
    if (!victim.second->failed) send_deallocate(victim.second->name);
  }
  return stmt;
}

void Connection::send_deallocate(const std::string& name) {
  auto r = std::make_unique<Request>();
  r->kind = Request::Kind::control;
  r->text = "DEALLOCATE " + name;
  r->sql = r->text;
  r->sent_at = front_.loop.now();
  if (send(*r)) inflight_.push_back(std::move(r));
}

// Drops a statement from the cache (its Parse failed, or its plan went stale).
void Connection::forget(const std::shared_ptr<CachedStatement>& stmt) {
  for (auto it = lru_.begin(); it != lru_.end(); ++it) {
    if (it->second == stmt) {
      index_.erase(it->first);
      lru_.erase(it);
      return;
    }
  }
}

// ---- results -------------------------------------------------------------------------

void Connection::read_results() {
  int empty_in_a_row = 0;
  while (state_ == State::ready && !inflight_.empty() && !PQisBusy(conn_)) {
    PGresult* res = PQgetResult(conn_);
    if (inflight_.front()->kind == Request::Kind::script) {
      on_script_result(res);
      continue;
    }
    if (!res) {  // the end of one command's results
      ++inflight_.front()->command_index;
      if (++empty_in_a_row > 2) break;
      continue;
    }
    empty_in_a_row = 0;
    on_result(res);
  }
  if (state_ == State::ready && PQstatus(conn_) == CONNECTION_BAD) {
    return lose(make_error_code(errc::connection_lost), trim_message(PQerrorMessage(conn_)));
  }
  if (state_ != State::ready) return;
  send_more();
  refresh_timer();
  update_ref();
  front_.connection_changed(*this);
}

void Connection::on_result(PGresult* res) {
  Request& r = *inflight_.front();
  if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
    PQclear(res);
    return finish_head();
  }
  if (r.kind == Request::Kind::group) return on_group_result(r, res);
  const bool is_prepare = r.command_index < r.commands.size() &&
                          r.commands[r.command_index] == Request::Command::prepare;
  apply_result(r, is_prepare, res);
}

// One result of one command of `r` (consumes `res`).
void Connection::apply_result(Request& r, bool is_prepare, PGresult* res) {
  const ExecStatusType status = PQresultStatus(res);
  if (r.ends_tx && r.commit && status == PGRES_COMMAND_OK && !r.error &&
      std::string_view(PQcmdStatus(res)) == "ROLLBACK") {  // COMMIT of a failed transaction
    r.error = Error(errc::abort,
                    "the transaction was rolled back by the database after an earlier error");
  }
  switch (status) {
    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK:
    case PGRES_EMPTY_QUERY:
      if (!is_prepare && !r.error) {
        try {
          r.result = to_result_set(res);
        } catch (...) {
          r.error = to_error(std::current_exception());
        }
      }
      break;
    case PGRES_PIPELINE_ABORTED:
      r.aborted = true;
      if (!r.error)
        r.error =
            Error(errc::abort, "not run: an earlier error aborted it [in: " + shorten(r.sql) + "]");
      break;
    case PGRES_FATAL_ERROR:
      if (!r.error) r.error = result_error(res, r);
      if (stray_cancel(res, r)) {
        r.stray = true;
        if (r.route == Route::read && r.tx == 0 && !r.replanned) r.replan = true;
      }
      if (is_prepare && r.stmt) {  // the name never came to exist: forget it
        r.stmt->failed = true;
        r.stmt->error = r.error;
        forget(r.stmt);
      } else if (r.stmt && r.error->backend_code() == sqlstate_code("0A000") &&
                 std::string_view(r.error->what())
                         .find("cached plan must not change result type") !=
                     std::string_view::npos) {
        forget(r.stmt);  // prepared again next time
        send_deallocate(r.stmt->name);
        r.replan = true;
      }
      break;
    default:
      if (!r.error)
        r.error = Error(errc::misuse, "unsupported result (COPY?) [in: " + shorten(r.sql) + "]");
      break;
  }
  PQclear(res);
}

// Scripts run in the simple protocol: one result per statement, then null.
void Connection::on_script_result(PGresult* res) {
  Request& r = *inflight_.front();
  if (!res) {
    script_running_ = false;
    if (!PQenterPipelineMode(conn_)) {
      return lose(make_error_code(errc::connection_lost), "cannot re-enter pipeline mode");
    }
    return finish_head();
  }
  const ExecStatusType status = PQresultStatus(res);
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
    if (!r.error) r.result = to_result_set(res);
  } else if (status == PGRES_FATAL_ERROR) {
    if (!r.error) r.error = result_error(res, r);
  }
  PQclear(res);
}

void Connection::finish_head() {
  std::unique_ptr<Request> r = std::move(inflight_.front());
  inflight_.pop_front();
  cancel_head_if_wanted();
  if (r->kind == Request::Kind::group) return finish_group(std::move(r));
  if (r->groupable)
    front_.group_counters.record(1, front_.loop.now() - r->sent_at);  // a group of one
  if (r->replan && r->route == Route::read && !r->replanned) {
    // A read that did not run: sent again, prepared afresh (a write is not, so that
    // writes keep their order; it fails and the next call prepares afresh).
    r->stmt.reset();
    r->commands.clear();
    r->command_index = 0;
    r->result.reset();
    r->error.reset();
    r->replanned = true;
    pending_.push_front(std::move(r));
    return;
  }
  if (r->error) {
    Error e = std::move(*r->error);
    front_.complete(std::move(r), Outcome<ResultSet>(std::move(e)));
  } else {
    ResultSet rs = r->result ? std::move(*r->result) : ResultSet{};
    front_.complete(std::move(r), Outcome<ResultSet>(std::move(rs)));
  }
}

// SQLSTATE 57014 with the server's "due to user request": a cancel request, not the
// statement_timeout ("due to statement timeout").
static bool canceled_by_request(const PGresult* res) {
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const char* msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  return state && std::string_view(state) == "57014" && msg &&
         std::string_view(msg).find("user request") != std::string_view::npos;
}

// Cancelled by a request sent for the statement before it (see database.hpp).
bool Connection::stray_cancel(const PGresult* res, const Request& r) const {
  return !r.cancel_wanted && !cancel_requested_ && canceled_by_request(res);
}

Error Connection::result_error(const PGresult* res, const Request& r) const {
  Error e = make_error(res, r.sql);
  if (r.cancel_wanted && canceled_by_request(res)) {
    return Error(std::make_error_code(std::errc::operation_canceled),
                 std::string("the statement was cancelled while it ran: ") + e.what(),
                 e.backend_code());
  }
  if (stray_cancel(res, r)) {
    return Error(
        std::make_error_code(std::errc::operation_canceled),
        std::string(
            "the statement was cancelled by a cancel request sent for the statement before it "
            "on its connection (PostgreSQL cancels whatever runs); it was rolled back: ") +
            e.what(),
        e.backend_code());
  }
  if (e.backend_code() == sqlstate_code("26000") && r.stmt && r.stmt->error) {
    return *r.stmt->error;  // its Parse failed in an earlier request: that is the reason
  }
  if (e.code() == std::errc::timed_out) {
    if (cancel_requested_) {
      return Error(std::make_error_code(std::errc::operation_canceled),
                   std::string("canceled: the database was destroyed: ") + e.what(),
                   e.backend_code());
    }
    auto ms = front_.spec.options.postgres.query_timeout.count();
    return Error(
        e.code(),
        "the statement ran past the query timeout (" + std::to_string(ms) + " ms): " + e.what(),
        e.backend_code());
  }
  if (e.backend_code() == 0 && PQstatus(conn_) == CONNECTION_BAD) {
    return Error(errc::connection_lost, std::string("the connection was lost: ") + e.what());
  }
  return e;
}

// ---- loss, cancellation, shutdown ----------------------------------------------------

void Connection::lose(std::error_code code, const std::string& why) {
  if (state_ == State::ready) ++front_.counters.connections_lost;
  const std::string where = front_.spec.where;
  std::deque<std::unique_ptr<Request>> sent = std::move(inflight_);
  inflight_.clear();
  shut_down();
  auto fail = [&](std::unique_ptr<Request> r) {
    Error e(code, "the connection to the PostgreSQL server at " + where +
                      " was lost with the statement in flight: " + why +
                      " [in: " + shorten(r->sql) + "]");
    front_.complete(std::move(r), Outcome<ResultSet>(std::move(e)));
  };
  for (auto& r : sent) {
    if (r->kind != Request::Kind::group) {
      fail(std::move(r));
      continue;
    }
    for (auto& m : r->members) {  // a group is never completed itself
      if (!m->settled) {
        fail(std::move(m));
        continue;
      }
      Error own = std::move(*m->error);
      front_.complete(std::move(m), Outcome<ResultSet>(std::move(own)));
    }
  }
  // A transaction's statements cannot move to a fresh connection: they fail.
  for (auto it = pending_.begin(); it != pending_.end();) {
    if ((*it)->tx == 0) {
      ++it;
      continue;
    }
    std::unique_ptr<Request> r = std::move(*it);
    it = pending_.erase(it);
    front_.complete(
        std::move(r),
        Outcome<ResultSet>(Error(errc::abort, "the transaction's connection was lost: " + why)));
  }
  front_.connection_lost(*this);
  if (!pending_.empty() && !front_.dead()) start_connect();  // the rest were never sent
  front_.connection_changed(*this);
}

void Connection::cancel_running() {
  if (!conn_ || state_ != State::ready || inflight_.empty()) return;
  if (send_cancel_request()) cancel_requested_ = true;
}

bool Connection::send_cancel_request() {
  if (!conn_ || state_ != State::ready) return false;
  std::unique_ptr<PGcancel, CancelDeleter> cancel(PQgetCancel(conn_));  // no I/O
  if (!cancel) return false;
  // PQcancel connects and writes synchronously: it runs on the pool, never on the loop.
  auto work = [c = std::shared_ptr<PGcancel>(cancel.release(), CancelDeleter())] {
    char buf[256];
    PQcancel(c.get(), buf, sizeof buf);
  };
  return !queue_work(
      front_.loop, WorkClass::slow, std::move(work), [](Result<void>&) {}, nullptr,
      "postgres cancel");
}

void Connection::shut_down() noexcept {
  timer_.stop();
  cancel_timer_.stop();
  if (watcher_) {  // unregister before PQfinish closes the socket
    watcher_->stop();
    retired_watchers_.push_back(std::move(watcher_));
  }
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  state_ = State::disconnected;
  script_running_ = false;
  cancel_requested_ = false;
  lru_.clear();
  index_.clear();
}

}  // namespace weft::db::pg
