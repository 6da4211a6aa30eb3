// weft-serve's parts and their order of starting and stopping.
//
// Site: one loop's share of the server — its own Database handle, document Store,
// change-feed hub (feed.hpp) and server (ws::App: HTTP and WebSocket) with its own listener.
// Site 0 also runs the process's Feed, which reads each committed change once and hands it
// to every site's hub. App: the process — the sites, one per worker loop.
// With --workers N, loop 0 runs on the main thread and N-1 more loops run on their own
// threads, sharing loop 0's Runtime (the pools); each site listens on the same port with
// SO_REUSEPORT, so the kernel spreads connections over the loops (Node's cluster model,
// in threads). Each site has its own Database handle, because a Database belongs to one
// loop, and reads on it. The other sites send their writes to site 0's Store (on_loop,
// weft/on_loop.hpp), so the process keeps one ordered writer: separate SQLite writer
// connections would meet SQLite's write lock and snapshot conflicts (SQLITE_BUSY) under
// load, and concurrent PostgreSQL writers would race for the next id.
// sqlite::memory: is one database per connection, so it always runs one loop.
//
// Starting: site 0 creates the data directory, opens the database, applies the schema,
// imports the seed and listens (picking the port when --port 0); then the other sites
// start on their threads with that port. Any failure stops everything; start() returns
// the exit status. Stopping (SIGINT/SIGTERM): every site stops accepting, lets in-flight
// requests finish (at most --shutdown-timeout), then closes its database, which waits for
// its queued writes — an acknowledged write is on disk; the threads are joined.
#pragma once

#include "feed.hpp"
#include "options.hpp"
#include "store.hpp"

#include <weft/db/database.hpp>
#include <weft/http/server.hpp>
#include <weft/loop.hpp>
#include <weft/loop_thread.hpp>
#include <weft/observe/mount.hpp>
#include <weft/signal.hpp>
#include <weft/ws/app.hpp>

#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace weft::serve {

class Site {
 public:
  // `home`: site 0, whose Store takes this site's writes.
  // `registry`: where every site's loop, pools and HTTP figures meet for /_weft/.
  Site(Loop& loop, const ServeOptions& options, unsigned index, Site* home,
       observe::Registry* registry);
  ~Site();

  // Opens the database and listens on `port`; site 0 also prepares the data directory
  // and imports the seed. 0 or the exit status after printing why.
  Task<int> start(std::uint16_t port);
  // Graceful stop; `done` runs on this site's loop once the database is closed.
  void stop(Function<void()> done = {});
  // The two halves of stop(): stop serving (in-flight requests get --shutdown-timeout),
  // then close the database after its queued writes.
  void close_server(Function<void()> done);
  void close_database(Function<void()> done);
  std::uint16_t port() const noexcept { return server_.port(); }
  http::Server& server() noexcept { return server_; }
  // Site 0's: the process's change feed (null on the other sites and before start()).
  Feed* feed() const noexcept { return feed_.get(); }
  Loop& loop() const noexcept { return loop_; }

 private:
  Task<int> open_database();
  Task<int> import_seed();
  Task<int> start_feed();
  int listen(std::uint16_t port);
  void mount_observation();

  Loop& loop_;
  const ServeOptions& options_;
  const unsigned index_;
  Site* home_;
  std::unique_ptr<db::Database> db_;
  std::optional<Store> store_;
  ws::App server_;                // HTTP and the change feed's WebSocket
  std::unique_ptr<Feed> feed_;    // site 0 only
  std::shared_ptr<FeedHub> hub_;  // this loop's feed subscribers
  observe::Registry* registry_;
  std::unique_ptr<observe::Mount> observe_;
  bool stopping_ = false;
};

class App {
 public:
  App(Loop& loop, ServeOptions options);
  ~App();

  Task<int> start();
  void stop();

 private:
  struct Worker;
  std::unique_ptr<Worker> start_worker(unsigned index, std::uint16_t port);
  int start_workers(std::uint16_t port);
  void watch_signals();
  int start_tls();
  int start_redirect();
  void worker_stopped();
  void finish_if_done();

  Loop& loop_;
  ServeOptions options_;
  observe::Registry registry_;                    // before the sites: they remove themselves
  std::unique_ptr<Site> site_;                    // loop 0's
  std::vector<std::unique_ptr<Worker>> workers_;  // loops 1..N-1
  Signal sigint_, sigterm_, sighup_;
  std::unique_ptr<http::Server> redirect_;  // --tls-redirect-from: 308 to https
  std::size_t workers_running_ = 0;         // started and not yet stopped (main loop's count)
  bool server_closed_ = false;              // site 0's server
  Loop::KeepAlive waiting_;                 // holds loop 0 until the workers have stopped
  bool stopping_ = false;
};

// The bundled site: share/weft-serve/site next to the binary's bin/ directory.
std::string bundled_site_dir();
// The number of loops to run: --workers, 0 resolved to the cores; 1 for sqlite::memory:.
unsigned resolve_workers(const ServeOptions& options);

}  // namespace weft::serve
