// The live change feed: every committed write, in commit order, to SSE and WebSocket
// subscribers on every loop, resumable with a cursor.
//
// Where changes come from. The database writes them: a trigger on weft_documents adds a
// row to weft_changes (id, collection, doc_id, num, op, doc) in the write's own
// transaction (dialect.cpp), so a change exists exactly when its write committed, with an
// id that grows in commit order (PostgreSQL: see the migration's lock). Nothing is
// published from the write path itself: the Feed reads the table after the commit.
//
// Feed (one per process, on loop 0) tails weft_changes ("id > last", in id order, a batch
// at a time) when poked — after each write this process committed (Store::on_change), on
// PostgreSQL after each NOTIFY weft_changes from any instance (db::Listener) and after the
// listener (re)connects — and every --feed-poll-ms anyway (writers in other processes on
// one SQLite file; a lost notification only delays). Each batch goes to every loop's
// FeedHub (Loop::post to the other loops). It also prunes: the table keeps the last
// --changes-history changes (weft_feed.pruned_through records what was removed).
//
// FeedHub (one per loop) holds that loop's Subscriptions (one client, one collection).
// A subscription with a cursor `since` first reads the history (id > since) from the
// database while the hub queues the live changes for it; then it sends the queued ones it
// did not read, and goes live: every change once, in order. A cursor older than the kept
// history (or newer than the newest change: another database) gets a reload notice and
// resumes from the newest change. A subscriber whose queue passes --feed-max-buffer is
// ended (its client reconnects with its last id and catches up from the history).
#pragma once

#include "dialect.hpp"
#include "options.hpp"

#include <weft/db/database.hpp>
#include <weft/db/notify.hpp>
#include <weft/function.hpp>
#include <weft/loop.hpp>
#include <weft/task.hpp>
#include <weft/timer.hpp>

#include <cstdint>
#include <exception>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace weft::serve {

// One change as subscribers receive it: `json` is
// {"id":N,"collection":"posts","doc_id":1,"op":"create|update|delete","doc":{...}|null}
// (doc_id: a number for integer ids, else a string).
struct Change {
  std::int64_t id = 0;
  std::string collection;
  std::string json;
};

// The reload notice's JSON: {"id":N,"collection":"posts","op":"reload"} — N is where the
// subscription resumes (changes after N follow).
std::string reload_json(std::int64_t id, const std::string& collection);

class FeedHub;

// One client's interest in one collection (SSE: its stream; WebSocket: one per subscribed
// collection). Loop thread only.
class Subscription {
 public:
  explicit Subscription(std::string collection) : collection_(std::move(collection)) {}
  virtual ~Subscription() = default;
  const std::string& collection() const noexcept { return collection_; }
  std::int64_t last_id() const noexcept { return last_; }

  // Each change once, ids increasing.
  virtual void deliver(const Change& c) = 0;
  virtual void reload(std::int64_t resume_after) = 0;
  // The subscription's starting point is known: changes after `after` follow (called once,
  // before any deliver; after reload when there is one).
  virtual void started(std::int64_t after) { (void)after; }
  // The hub drops the subscription (server stopping, queue overflow, database failure).
  virtual void end() = 0;
  // Bytes queued for the client now (for --feed-max-buffer).
  virtual std::size_t queued_bytes() const noexcept = 0;

 private:
  friend class FeedHub;
  std::string collection_;
  std::int64_t last_ = 0;
  bool catching_up_ = false;
  std::vector<Change> pending_;  // live changes that came during the catch-up
  std::size_t pending_bytes_ = 0;
  bool overflowed_ = false;  // pending_ passed max_buffer and was dropped: read the table again
};

struct FeedLimits {
  std::size_t max_buffer = 1 << 20;  // per subscriber
};

class FeedHub {
 public:
  FeedHub(Loop& loop, db::Database& db, Backend backend, FeedLimits limits);

  // since: nullopt → from now: after the newest change committed (read from the database).
  void add(std::shared_ptr<Subscription> s, std::optional<std::int64_t> since);
  void remove(const Subscription* s);
  // A batch from the Feed, on this hub's loop.
  void dispatch(const std::vector<Change>& batch);
  // Ends every subscription; later add() calls end theirs at once.
  void close();
  std::size_t size() const noexcept { return subs_.size(); }
  Loop& loop() const noexcept { return loop_; }

 private:
  Task<void> catch_up(std::shared_ptr<Subscription> s, std::int64_t since);
  Task<void> read_history(std::shared_ptr<Subscription> s);
  void send(Subscription& s, const Change& c);
  bool attached(const Subscription* s) const;
  void drop(Subscription& s);

  Loop& loop_;
  db::Database& db_;
  Backend backend_;
  FeedLimits limits_;
  std::list<std::shared_ptr<Subscription>> subs_;
  bool closed_ = false;
};

struct FeedStats {
  std::int64_t last_id = 0;
  std::uint64_t polls = 0;
  std::uint64_t changes = 0;  // read and dispatched
  std::uint64_t poll_errors = 0;
  bool listening = false;      // PostgreSQL: a listener exists
  db::ListenerStats listener;  // PostgreSQL only
};

class Feed {
 public:
  Feed(Loop& loop, db::Database& db, Backend backend, const ServeOptions& options);
  ~Feed();

  // Reads where the changes table ends (history before that is served by cursors only),
  // starts the poll timer and, on PostgreSQL, the listener.
  Task<void> start();
  // Any thread: `hub` (on `loop`) receives every batch until detached.
  void attach(Loop& loop, std::shared_ptr<FeedHub> hub);
  void detach(const FeedHub* hub);
  // Loop 0: read new changes soon (coalesced).
  void poke();
  void stop();
  FeedStats stats() const;  // any thread

 private:
  Task<void> drain();
  Task<void> prune();
  void count_poll(const std::exception_ptr& failure);
  void publish(const std::shared_ptr<const std::vector<Change>>& batch);

  Loop& loop_;
  db::Database& db_;
  Backend backend_;
  const ServeOptions& options_;
  Timer poll_timer_;
  std::unique_ptr<db::Listener> listener_;
  std::int64_t last_ = 0;
  std::int64_t pruned_ = 0;  // the last cutoff this process pruned to
  bool draining_ = false, dirty_ = false, pruning_ = false, stopped_ = false, failing_ = false;
  mutable std::mutex mu_;  // hubs_ and figures_
  struct Attached {
    Loop* loop;
    std::shared_ptr<FeedHub> hub;
  };
  std::vector<Attached> hubs_;
  FeedStats figures_;
};

// /_weft/stats' "feed" section: {"last_id", "polls", "changes", "poll_errors", "listener":
// null (SQLite) or {"connected", "connects", "failures", "notifications", "backoff_ms",
// "last_error"}}.
std::string feed_stats_json(const FeedStats& s);

// A row of the feed's SELECTs (id, collection, doc_id, num, op, doc) as a Change.
Change change_from_row(const db::Row& row);

}  // namespace weft::serve
