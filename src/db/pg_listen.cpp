// db::Listener (include/weft/db/notify.hpp): LISTEN on a dedicated libpq connection,
// driven by readiness on the loop thread, with reconnection and backoff.
#include <weft/db/error.hpp>
#include <weft/db/notify.hpp>
#include <weft/io_watcher.hpp>
#include <weft/loop.hpp>
#include <weft/timer.hpp>

#include <libpq-fe.h>

#include <algorithm>
#include <mutex>

namespace weft::db {

namespace {

std::string trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? "unknown error" : s;
}

void ignore_notice(void*, const char*) {}

}  // namespace

// The connection's state; `closed` is checked after each user callback (which may call
// close()).
struct Listener::Impl {
  enum class State : unsigned char { waiting, connecting, subscribing, listening, closed };

  Impl(Loop& l, std::string u, std::vector<std::string> c, ListenerEvents e, ListenerOptions o)
      : loop(l),
        url(std::move(u)),
        channels(std::move(c)),
        events(std::move(e)),
        options(o),
        timer(l) {}
  ~Impl() { shut_down(); }

  void connect();
  void connect_step();
  void subscribe();
  void on_io(unsigned ev);
  void read_subscription();
  void read_notifications();
  void fail(const std::string& why, bool was_listening);
  void watch(unsigned ev);
  void shut_down();
  void close();
  void set_stats(Function<void(ListenerStats&)> edit);

  Loop& loop;
  const std::string url;
  const std::vector<std::string> channels;
  ListenerEvents events;
  const ListenerOptions options;
  Timer timer;  // the connect deadline, or the backoff
  std::unique_ptr<IoWatcher> watcher;
  std::vector<std::unique_ptr<IoWatcher>> retired;  // replaced inside their own callback
  PGconn* conn = nullptr;
  State state = State::waiting;
  std::chrono::milliseconds backoff{0};
  mutable std::mutex stats_mu;
  ListenerStats figures;
};

void Listener::Impl::set_stats(Function<void(ListenerStats&)> edit) {
  std::lock_guard lock(stats_mu);
  edit(figures);
}

void Listener::Impl::connect() {
  retired.clear();
  state = State::connecting;
  conn = PQconnectStart(url.c_str());
  if (!conn) return fail("out of memory", false);
  if (PQstatus(conn) == CONNECTION_BAD) return fail(trimmed(PQerrorMessage(conn)), false);
  PQsetnonblocking(conn, 1);
  PQsetNoticeProcessor(conn, ignore_notice, nullptr);
  timer.start([this] { fail("timed out connecting", false); }, options.connect_timeout);
  timer.unref();
  watch(io_event::writable);
}

// A fresh watcher whenever the socket changes (libpq may move to the next address).
void Listener::Impl::watch(unsigned ev) {
  const int fd = PQsocket(conn);
  if (!watcher || watcher->fd() != fd) {
    if (watcher) {
      watcher->stop();
      retired.push_back(std::move(watcher));
    }
    watcher = std::make_unique<IoWatcher>(loop, fd);
    watcher->set_label("postgres listener");
    if (watcher->start(ev, [this](unsigned e) { on_io(e); }))
      return fail("cannot watch the socket", false);
    watcher->unref();
  } else if (watcher->set_events(ev)) {
    fail("cannot watch the socket", state == State::listening);
  }
}

void Listener::Impl::connect_step() {
  switch (PQconnectPoll(conn)) {
    case PGRES_POLLING_READING:
      return watch(io_event::readable);
    case PGRES_POLLING_WRITING:
      return watch(io_event::writable);
    case PGRES_POLLING_OK:
      return subscribe();
    default:
      return fail(trimmed(PQerrorMessage(conn)), false);
  }
}

void Listener::Impl::subscribe() {
  std::string sql;
  for (const std::string& c : channels) {
    char* quoted = PQescapeIdentifier(conn, c.data(), c.size());
    if (!quoted) return fail(trimmed(PQerrorMessage(conn)), false);
    sql += "LISTEN " + std::string(quoted) + ";";
    PQfreemem(quoted);
  }
  if (!PQsendQuery(conn, sql.c_str())) return fail(trimmed(PQerrorMessage(conn)), false);
  state = State::subscribing;
  const int rc = PQflush(conn);
  if (rc < 0) return fail(trimmed(PQerrorMessage(conn)), false);
  watch(io_event::readable | (rc == 1 ? io_event::writable : 0u));
}

void Listener::Impl::on_io(unsigned ev) {
  if (state == State::connecting) return connect_step();
  if (state != State::subscribing && state != State::listening) return;
  if (ev & io_event::writable) {
    const int rc = PQflush(conn);
    if (rc < 0) return fail(trimmed(PQerrorMessage(conn)), state == State::listening);
    watch(io_event::readable | (rc == 1 ? io_event::writable : 0u));
    if (state == State::closed) return;
  }
  if (!PQconsumeInput(conn)) return fail(trimmed(PQerrorMessage(conn)), state == State::listening);
  if (state == State::subscribing) read_subscription();
  if (state == State::listening) read_notifications();
}

// The LISTEN statements' results; once they are all in, LISTEN is in effect.
void Listener::Impl::read_subscription() {
  while (!PQisBusy(conn)) {
    PGresult* r = PQgetResult(conn);
    if (!r) {
      timer.stop();
      state = State::listening;
      backoff = std::chrono::milliseconds(0);
      set_stats([](ListenerStats& s) {
        s.connected = true;
        ++s.connects;
        s.backoff = std::chrono::milliseconds(0);
      });
      if (events.connected) events.connected();
      return;
    }
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    std::string why = ok ? "" : trimmed(PQresultErrorMessage(r));
    PQclear(r);
    if (!ok) return fail("LISTEN failed: " + why, false);
  }
}

void Listener::Impl::read_notifications() {
  while (PGnotify* n = PQnotifies(conn)) {
    Notification out{n->relname ? n->relname : "", n->extra ? n->extra : "", n->be_pid};
    PQfreemem(n);
    set_stats([](ListenerStats& s) { ++s.notifications; });
    if (events.notify) events.notify(out);
    if (state != State::listening) return;  // closed by the callback
  }
}

void Listener::Impl::shut_down() {
  timer.stop();
  if (watcher) {  // unregister before PQfinish closes the socket
    watcher->stop();
    retired.push_back(std::move(watcher));
  }
  if (conn) PQfinish(conn);
  conn = nullptr;
}

// Closes what is open and tries again after the backoff.
void Listener::Impl::fail(const std::string& why, bool was_listening) {
  shut_down();
  state = State::waiting;
  backoff = std::clamp(backoff * 2, options.min_backoff, options.max_backoff);
  set_stats([&](ListenerStats& s) {
    s.connected = false;
    ++s.failures;
    s.backoff = backoff;
    s.last_error = why;
  });
  timer.start([this] { connect(); }, backoff);
  timer.unref();
  if (was_listening && events.disconnected) events.disconnected(why);
}

// The handles are closed too, so that a closed Listener leaves its loop closable.
void Listener::Impl::close() {
  if (state == State::closed) return;
  shut_down();
  timer.close();
  for (auto& w : retired) w->close();
  state = State::closed;
  events = {};
  set_stats([](ListenerStats& s) { s.connected = false; });
}

Listener::Listener(Loop& loop, std::string url, std::vector<std::string> channels,
                   ListenerEvents events, ListenerOptions options)
    : impl_(std::make_unique<Impl>(loop, std::move(url), std::move(channels), std::move(events),
                                   options)) {
  // Started from the timers phase: no callback runs inside the constructor.
  impl_->timer.start([impl = impl_.get()] { impl->connect(); }, Duration::zero());
  impl_->timer.unref();
}

Listener::~Listener() { close(); }

void Listener::close() { impl_->close(); }

ListenerStats Listener::stats() const {
  std::lock_guard lock(impl_->stats_mu);
  return impl_->figures;
}

}  // namespace weft::db
