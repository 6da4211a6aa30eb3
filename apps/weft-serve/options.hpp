// weft-serve's command line: every flag, its default, and the help text that documents it.
#pragma once

#include "list_query.hpp"
#include "proxy.hpp"

#include <weft/db/database.hpp>
#include <weft/http/server.hpp>
#include <weft/pool.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace weft::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string root;  // empty: the bundled site
  std::string db_url = "sqlite:weft-data/weft.db";
  std::string seed;  // a json-server style file, imported when empty
  bool read_only = false;
  bool cors = true;              // Access-Control-Allow-Origin: * (json-server's default)
  std::size_t max_list = 10000;  // documents per list response without paging; 0: all
  QueryLimits query_limits;      // filters, sort keys, pattern length of a list
  // Every database statement's time limit (SQLite: a progress handler; PostgreSQL:
  // statement_timeout); past it the request gets 503 and the connection is free. 0: none.
  std::size_t statement_timeout_ms = 5000;
  db::Synchronous synchronous = db::Synchronous::full;
  // SQLite's group commit (db::GroupCommit): --no-group-commit, --group-max, --group-wait-us.
  db::GroupCommit group_commit;
  http::ServerOptions http;      // limits and timeouts
  double shutdown_seconds = 10;  // graceful stop: in-flight requests get this long
  bool quiet = false;
  // Observation (/_weft/): on by default, answered from loopback only unless allowed or a
  // bearer token is given; --demo adds the block/offload demo routes.
  bool observe = true;
  bool observe_remote = false;
  // The bearer token: --observe-token, else the file --observe-token-file names, else
  // $WEFT_OBSERVE_TOKEN (parse_args resolves it); empty: none.
  std::string observe_token;
  std::string observe_token_file;
  // Host names /_weft/ answers for besides localhost, 127.0.0.1, [::1] and --host.
  std::vector<std::string> observe_hosts;
  bool demo = false;
  double watchdog_ms = 100;  // a callback running longer is a stall; 0: off
  std::size_t workers = 0;   // loop threads; 0: one per core
  PoolOptions pools;         // --pool-nice sets io_nice and cpu_nice
  ProxyOptions proxy;        // --proxy PREFIX=URL (repeatable) and its timeouts
  // HTTPS: --tls-cert/--tls-key (PEM files; SIGHUP re-reads them); --tls-redirect-from PORT
  // adds a plain HTTP listener on PORT answering 308 to the https URL. 0: none.
  std::string tls_cert;
  std::string tls_key;
  std::uint16_t tls_redirect_from = 0;
  // The change feed (feed.hpp): changes kept for resuming (older cursors are told to
  // reload); the SSE heartbeat; how often the feed reads the changes table even without a
  // local write or a NOTIFY (other processes on one SQLite file, a lost notification);
  // bytes queued for one slow subscriber before it is disconnected (it resumes with since).
  std::size_t changes_history = 10000;
  std::size_t feed_heartbeat_ms = 15000;
  std::size_t feed_poll_ms = 1000;
  std::size_t feed_max_buffer = 1 << 20;
};

// The outcome of parsing argv (and $WEFT_OBSERVE_TOKEN): options to run with, or an exit
// status after printing help (0) or an error naming the bad flag (2).
struct ParsedArgs {
  std::optional<ServeOptions> options;
  int exit_status = 0;
};

ParsedArgs parse_args(int argc, char** argv);
std::string help_text();

}  // namespace weft::serve
