#include "feed.hpp"

#include <weft/async.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>

namespace weft::serve {
namespace {

constexpr std::int64_t kBatch = 1000;        // rows per read of the changes table
constexpr std::int64_t kHistoryBatch = 100;  // rows per read of one subscriber's history

std::string doc_column(Backend b) { return b == Backend::sqlite ? "doc" : "doc::text"; }

std::string tail_sql(Backend b) {
  return "SELECT id, collection, doc_id, num, op, " + doc_column(b) +
         " FROM weft_changes WHERE id > ? ORDER BY id LIMIT ?";
}

std::string history_sql(Backend b) {
  return "SELECT id, collection, doc_id, num, op, " + doc_column(b) +
         " FROM weft_changes WHERE collection = ? AND id > ? ORDER BY id LIMIT ?";
}

constexpr const char* state_sql =
    "SELECT (SELECT pruned_through FROM weft_feed), (SELECT coalesce(max(id), 0) FROM "
    "weft_changes)";

void log_error(const char* what, const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::fprintf(stderr, "weft-serve: change feed: %s: %s\n", what, x.what());
  } catch (...) {
    std::fprintf(stderr, "weft-serve: change feed: %s: unknown error\n", what);
  }
}

struct FeedState {
  std::int64_t pruned_through = 0;
  std::int64_t max_id = 0;
};

FeedState feed_state(const db::ResultSet& rs) {
  return {rs.front()[0].as_int(), rs.front()[1].as_int()};
}

}  // namespace

std::string feed_stats_json(const FeedStats& s) {
  nlohmann::json out = {{"last_id", s.last_id},
                        {"polls", s.polls},
                        {"changes", s.changes},
                        {"poll_errors", s.poll_errors},
                        {"listener", nullptr}};
  if (s.listening) {
    out["listener"] = {
        {"connected", s.listener.connected},        {"connects", s.listener.connects},
        {"failures", s.listener.failures},          {"notifications", s.listener.notifications},
        {"backoff_ms", s.listener.backoff.count()}, {"last_error", s.listener.last_error}};
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string reload_json(std::int64_t id, const std::string& collection) {
  return "{\"id\":" + std::to_string(id) + ",\"collection\":" + nlohmann::json(collection).dump() +
         ",\"op\":\"reload\"}";
}

Change change_from_row(const db::Row& row) {
  Change c;
  c.id = row[0].as_int();
  c.collection = row[1].as_text();
  const std::string doc_id =
      row[3].is_null() ? nlohmann::json(row[2].as_text()).dump() : std::to_string(row[3].as_int());
  const std::string doc = row[5].is_null() ? "null" : row[5].as_text();
  c.json = "{\"id\":" + std::to_string(c.id) +
           ",\"collection\":" + nlohmann::json(c.collection).dump() + ",\"doc_id\":" + doc_id +
           ",\"op\":\"" + row[4].as_text() + "\",\"doc\":" + doc + "}";
  return c;
}

// ---- FeedHub -------------------------------------------------------------------------------

FeedHub::FeedHub(Loop& loop, db::Database& db, Backend backend, FeedLimits limits)
    : loop_(loop), db_(db), backend_(backend), limits_(limits) {}

void FeedHub::add(std::shared_ptr<Subscription> s, std::optional<std::int64_t> since) {
  if (closed_) return s->end();
  subs_.push_back(s);
  s->catching_up_ = true;
  spawn(loop_, catch_up(std::move(s), since.value_or(-1)));
}

bool FeedHub::attached(const Subscription* s) const {
  return std::any_of(subs_.begin(), subs_.end(), [s](const auto& p) { return p.get() == s; });
}

void FeedHub::remove(const Subscription* s) {
  subs_.remove_if([s](const auto& p) { return p.get() == s; });
}

void FeedHub::drop(Subscription& s) {
  auto keep =
      std::find_if(subs_.begin(), subs_.end(), [&s](const auto& p) { return p.get() == &s; });
  if (keep == subs_.end()) return;
  std::shared_ptr<Subscription> held = *keep;
  subs_.erase(keep);
  held->end();
}

void FeedHub::send(Subscription& s, const Change& c) {
  if (s.queued_bytes() > limits_.max_buffer) return drop(s);
  s.last_ = c.id;
  s.deliver(c);
}

// Subscriptions may end (and leave subs_) while a batch is delivered: iterate a copy.
void FeedHub::dispatch(const std::vector<Change>& batch) {
  if (batch.empty() || closed_) return;
  std::vector<std::shared_ptr<Subscription>> subs(subs_.begin(), subs_.end());
  for (const auto& s : subs) {
    for (const Change& c : batch) {
      if (c.collection != s->collection_ || c.id <= s->last_ || !attached(s.get())) continue;
      if (!s->catching_up_) {
        send(*s, c);
        continue;
      }
      s->pending_bytes_ += c.json.size();
      s->pending_.push_back(c);
      if (s->pending_bytes_ > limits_.max_buffer) {  // they are in the table: read them there
        s->pending_.clear();
        s->pending_bytes_ = 0;
        s->overflowed_ = true;
      }
    }
  }
}

// The history after `since` (or a reload notice), then what queued meanwhile, then live.
// since < 0: from now — after the newest change committed when the subscription began
// (this loop's hub may not have received it yet, so it is read from the database).
Task<void> FeedHub::catch_up(std::shared_ptr<Subscription> s, std::int64_t since) {
  std::exception_ptr failure;
  try {
    db::ResultSet rs = co_await db_.query(state_sql);
    const FeedState state = feed_state(rs);
    if (since < 0) {  // from now: after the newest committed change
      s->last_ = state.max_id;
    } else if (since < state.pruned_through || since > state.max_id) {
      s->last_ = state.max_id;
      if (attached(s.get())) s->reload(state.max_id);
    } else {
      s->last_ = since;
    }
    if (attached(s.get())) s->started(s->last_);
    for (;;) {
      s->overflowed_ = false;
      Task<void> reading = read_history(s);
      co_await std::move(reading);
      if (!s->overflowed_ || !attached(s.get())) break;
    }
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    log_error("reading the history", failure);
    co_return drop(*s);
  }
  if (!attached(s.get())) co_return;
  std::vector<Change> pending = std::move(s->pending_);
  s->pending_.clear();
  s->pending_bytes_ = 0;
  s->catching_up_ = false;
  // (At most max_buffer bytes queued meanwhile: sent without the limit, as history is.)
  for (const Change& c : pending) {
    if (c.id <= s->last_ || !attached(s.get())) continue;
    s->last_ = c.id;
    s->deliver(c);
  }
}

// Paced by the client: before each change, while more than half of max_buffer waits for it,
// the read pauses (a client that goes away is detached, which ends it). So a history
// larger than the buffer reaches a client that reads, and never piles up in memory.
Task<void> FeedHub::read_history(std::shared_ptr<Subscription> s) {
  for (;;) {
    db::ResultSet rs = co_await db_.query(history_sql(backend_),
                                          db::params(s->collection_, s->last_, kHistoryBatch));
    for (const db::Row& row : rs) {
      while (attached(s.get()) && !closed_ && s->queued_bytes() > limits_.max_buffer / 2) {
        co_await sleep(loop_, std::chrono::milliseconds(5));
      }
      if (!attached(s.get())) co_return;
      Change c = change_from_row(row);
      s->last_ = c.id;
      s->deliver(c);
    }
    if (static_cast<std::int64_t>(rs.size()) < kHistoryBatch) co_return;
  }
}

void FeedHub::close() {
  closed_ = true;
  std::list<std::shared_ptr<Subscription>> subs = std::move(subs_);
  subs_.clear();
  for (const auto& s : subs) s->end();
}

// ---- Feed ----------------------------------------------------------------------------------

Feed::Feed(Loop& loop, db::Database& db, Backend backend, const ServeOptions& options)
    : loop_(loop), db_(db), backend_(backend), options_(options), poll_timer_(loop) {}

Feed::~Feed() { stop(); }

Task<void> Feed::start() {
  db::ResultSet rs = co_await db_.query(state_sql);
  const FeedState state = feed_state(rs);
  last_ = state.max_id;
  pruned_ = state.pruned_through;
  {
    std::lock_guard lock(mu_);
    figures_.last_id = last_;
  }
  poll_timer_.start([this] { poke(); }, std::chrono::milliseconds(options_.feed_poll_ms),
                    std::chrono::milliseconds(options_.feed_poll_ms));
  poll_timer_.unref();
  if (backend_ != Backend::postgres) co_return;
  db::ListenerEvents events{
      .notify = [this](const db::Notification&) { poke(); },
      .connected = [this] { poke(); },  // what was sent while nobody listened
      .disconnected =
          [](std::string_view why) {
            std::fprintf(stderr,
                         "weft-serve: change feed: the listener lost its connection: %.*s\n",
                         static_cast<int>(why.size()), why.data());
          },
  };
  std::lock_guard lock(mu_);
  listener_ = std::make_unique<db::Listener>(
      loop_, options_.db_url, std::vector<std::string>{"weft_changes"}, std::move(events));
}

void Feed::attach(Loop& loop, std::shared_ptr<FeedHub> hub) {
  std::lock_guard lock(mu_);
  hubs_.push_back({&loop, std::move(hub)});
}

void Feed::detach(const FeedHub* hub) {
  std::lock_guard lock(mu_);
  std::erase_if(hubs_, [hub](const Attached& a) { return a.hub.get() == hub; });
}

void Feed::poke() {
  if (stopped_) return;
  dirty_ = true;
  if (draining_) return;
  draining_ = true;
  spawn(loop_, drain());
}

void Feed::stop() {
  stopped_ = true;
  poll_timer_.stop();
  std::lock_guard lock(mu_);
  listener_.reset();
}

FeedStats Feed::stats() const {
  std::lock_guard lock(mu_);
  FeedStats s = figures_;
  s.listening = listener_ != nullptr;
  if (listener_) s.listener = listener_->stats();
  return s;
}

// Posts to the other loops under mu_: a hub is detached (on its loop, before it ends)
// only between two publishes, so no post reaches a loop that has stopped.
void Feed::publish(const std::shared_ptr<const std::vector<Change>>& batch) {
  std::shared_ptr<FeedHub> local;
  {
    std::lock_guard lock(mu_);
    for (const Attached& a : hubs_) {
      if (a.loop == &loop_) {
        local = a.hub;
        continue;
      }
      a.loop->post([hub = a.hub, batch] { hub->dispatch(*batch); });
    }
    figures_.changes += batch->size();
    figures_.last_id = last_;
  }
  if (local) local->dispatch(*batch);
}

// A failure is logged once per run of failures (an outage would repeat it every poll).
void Feed::count_poll(const std::exception_ptr& failure) {
  {
    std::lock_guard lock(mu_);
    ++figures_.polls;
    if (failure) ++figures_.poll_errors;
  }
  if (failure && !failing_)
    log_error("reading new changes (retried every --feed-poll-ms)", failure);
  if (!failure && failing_) std::fprintf(stderr, "weft-serve: change feed: reading again\n");
  failing_ = static_cast<bool>(failure);
}

Task<void> Feed::drain() {
  while (dirty_ && !stopped_) {
    dirty_ = false;
    std::exception_ptr failure;
    db::ResultSet rs;
    try {
      rs = co_await db_.query(tail_sql(backend_), db::params(last_, kBatch));
    } catch (...) {
      failure = std::current_exception();
    }
    count_poll(failure);
    if (failure) break;
    if (static_cast<std::int64_t>(rs.size()) == kBatch) dirty_ = true;
    auto batch = std::make_shared<std::vector<Change>>();
    batch->reserve(rs.size());
    for (const db::Row& row : rs) batch->push_back(change_from_row(row));
    if (batch->empty()) continue;
    last_ = batch->back().id;
    publish(batch);
  }
  draining_ = false;
  if (!failing_) {
    Task<void> pruning = prune();
    co_await std::move(pruning);
  }
}

// Keeps the last --changes-history changes, pruning in steps of a sixteenth of it. The
// cutoff is recorded first: a cursor is told to reload before its rows can be gone.
Task<void> Feed::prune() {
  const auto keep = static_cast<std::int64_t>(options_.changes_history);
  const std::int64_t cutoff = last_ - keep;
  if (pruning_ || stopped_ || cutoff <= pruned_ ||
      cutoff - pruned_ < std::max<std::int64_t>(1, keep / 16)) {
    co_return;
  }
  pruning_ = true;
  std::exception_ptr failure;
  try {
    co_await db_.exec("UPDATE weft_feed SET pruned_through = ? WHERE pruned_through < ?",
                      db::params(cutoff, cutoff));
    co_await db_.exec("DELETE FROM weft_changes WHERE id <= ?", db::params(cutoff));
    pruned_ = cutoff;
  } catch (...) {
    failure = std::current_exception();
  }
  pruning_ = false;
  if (failure) log_error("pruning", failure);
}

}  // namespace weft::serve
