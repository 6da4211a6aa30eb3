// App: weft-serve's parts on one loop — the database, the document store, the HTTP server
// with the API and the static site — and their order of starting and stopping.
//
// start() opens the database (creating the data directory of a sqlite: file), applies the
// schema, imports the seed, mounts the routes and listens; it returns 0 or the exit status
// after printing why it could not. stop() is the graceful shutdown (SIGINT/SIGTERM): stop
// accepting, let in-flight requests finish (at most shutdown_seconds), then close the
// database, which waits for every queued write — an acknowledged write is on disk.
#pragma once

#include "options.hpp"
#include "store.hpp"

#include <weft/db/database.hpp>
#include <weft/http/server.hpp>
#include <weft/loop.hpp>
#include <weft/signal.hpp>

#include <memory>
#include <optional>

namespace weft::serve {

class App {
 public:
  App(Loop& loop, ServeOptions options);
  ~App();

  Task<int> start();
  void stop();
  std::uint16_t port() const noexcept { return server_.port(); }

 private:
  Task<int> open_database();
  Task<int> import_seed();
  int listen();
  void watch_signals();

  Loop& loop_;
  ServeOptions options_;
  std::unique_ptr<db::Database> db_;
  std::optional<Store> store_;
  http::Server server_;
  Signal sigint_, sigterm_;
  bool stopping_ = false;
};

// The bundled site: share/weft-serve/site next to the binary's bin/ directory.
std::string bundled_site_dir();

}  // namespace weft::serve
