// weft::db::Listener — PostgreSQL's LISTEN/NOTIFY, received on the loop.
//
//   weft::db::Listener changes(loop, "postgres://app@127.0.0.1/app", {"weft_changes"}, {
//       .notify = [](const weft::db::Notification& n) { /* n.channel, n.payload */ },
//       .connected = [] { /* LISTEN is in effect: read what may have been missed */ },
//       .disconnected = {},
//   });
//   // sending is plain SQL on any Database: db->exec("SELECT pg_notify(?, ?)", ...)
//
// A dedicated connection (not one of a Database's pool: a pooled connection runs other
// statements and would hold notifications back until it is idle), opened non-blocking with
// libpq on the loop thread: PQconnectStart/PQconnectPoll driven by an IoWatcher, then one
// LISTEN per channel; when the socket is readable, PQconsumeInput and PQnotifies deliver
// every notification in the order the server sent them (PostgreSQL sends them at commit,
// in commit order; a rolled-back transaction's are never sent).
//
// Reconnection: a connection that cannot be opened, that breaks, or that does not finish
// connecting within connect_timeout is closed and tried again after a backoff that starts
// at min_backoff and doubles up to max_backoff (reset once LISTEN is in effect again).
// Notifications sent while no connection listened are lost — PostgreSQL keeps none for a
// session that is not there — so `connected` runs after every (re)connection: the moment
// to catch up from durable state (e.g. rows with ids above the last one seen).
//
// Lifetime and threads: every member except stats() runs on the loop thread; callbacks run
// there too, never inside the constructor. The Listener never keeps the loop alive (its
// watcher and timers are unref'd). Destroying it (or close()) closes the connection; no
// callback runs afterwards. Do not destroy it from inside its own callbacks (close() there is
// fine).
// Part of weft::db only when built WEFT_WITH_POSTGRES (libpq).
#pragma once

#include <weft/function.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weft {
class Loop;
}  // namespace weft

namespace weft::db {

struct Notification {
  std::string channel;
  std::string payload;
  int sender_pid = 0;  // the server process of the session that sent it
};

struct ListenerOptions {
  // Establishing the connection (TCP, TLS, authentication) and its LISTEN, else a retry.
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds min_backoff{100};   // first wait before reconnecting
  std::chrono::milliseconds max_backoff{5000};  // the doubling stops here
};

struct ListenerStats {
  bool connected = false;                // LISTEN in effect now
  std::uint64_t connects = 0;            // times LISTEN came into effect (the first included)
  std::uint64_t failures = 0;            // attempts that failed and connections lost
  std::uint64_t notifications = 0;       // delivered
  std::chrono::milliseconds backoff{0};  // the wait before the next attempt (0: connected)
  std::string last_error;                // libpq's message for the last failure
};

struct ListenerEvents {
  Function<void(const Notification&)> notify = {};
  Function<void()> connected = {};                           // after every (re)connection
  Function<void(std::string_view error)> disconnected = {};  // a connection was lost
};

class Listener {
 public:
  // url: a postgres:// or postgresql:// URL (libpq's URI syntax). channels: identifiers,
  // quoted for LISTEN as written (case kept). Starts connecting at once.
  Listener(Loop& loop, std::string url, std::vector<std::string> channels, ListenerEvents events,
           ListenerOptions options = {});
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // A copy of the figures; callable from any thread (for /_weft/stats).
  ListenerStats stats() const;
  // Closes the connection and stops reconnecting; no callback runs afterwards. Idempotent.
  void close();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::db
