// A throw-away PostgreSQL server for tests, from Debian's postgresql package.
//
//   auto server = weft::testing::PgServer::start();   // initdb + pg_ctl start, ~2-4 s
//   std::string url = server.fresh_schema_url();       // postgres://...?options=...search_path
//   server.stop();                                     // also done by the destructor
//
// start(): finds the binaries (/usr/lib/postgresql/<highest version>/bin), creates
// /tmp/weft-pg-XXXXXX (owned by the `postgres` OS user when run as root: the server
// refuses to run as root, so initdb and pg_ctl run through `runuser -u postgres --`),
// initdb's it (trust authentication, UTF8, C locale; fsync settings left at their
// defaults), and starts it on a free 127.0.0.1 port with its unix socket in that
// directory, waiting until it accepts connections. stop(): fast shutdown, then the
// directory is removed. Missing binaries: std::runtime_error saying
// "apt-get install postgresql" (tests must fail then, never skip).
//
// One server per test run: `weft_pg_test_server start|stop <state-file>` (CTest fixture
// DbPgServer) starts one and records its directory and port in <state-file>; test
// processes attach to it with attach(<state-file>). shared_pg_server() does that when
// WEFT_PG_TEST_STATE is set, and otherwise starts a server for the process (stopped at
// exit), so a test binary also runs on its own.
//
// The admin helpers use blocking libpq (tests only, never on a weft loop).
#pragma once

#include <string>
#include <vector>

namespace weft::testing {

class PgServer {
 public:
  static PgServer start();
  static PgServer attach(const std::string& state_file);  // throws if it is not running
  PgServer(PgServer&& other) noexcept;
  PgServer& operator=(PgServer&&) = delete;
  PgServer(const PgServer&) = delete;
  ~PgServer();

  // Writes "<dir> <port>" to state_file (for attach()).
  void save(const std::string& state_file) const;
  // Stops the server and removes its directory (only the one that started it).
  void stop() noexcept;
  // Leaves the server running when this object goes (weft_pg_test_server start).
  void release() noexcept { owner_ = false; }
  // Stops the server recorded in state_file, if any; removes its directory and the file.
  static void stop_recorded(const std::string& state_file) noexcept;

  int port() const noexcept { return port_; }
  const std::string& dir() const noexcept { return dir_; }
  // postgres://postgres@127.0.0.1:<port>/<db>
  std::string url(const std::string& db = "postgres") const;
  // A new schema (unique in the server) and a URL whose search_path is it: each test
  // sees only its own tables.
  std::string fresh_schema_url();
  // Runs sql as the superuser; returns the first column of every row. Throws.
  std::vector<std::string> admin_query(const std::string& sql) const;

 private:
  PgServer() = default;
  std::string bin_;
  std::string dir_;
  int port_ = 0;
  bool owner_ = false;
};

// The server of this test process (see above). Throws std::runtime_error with the reason.
PgServer& shared_pg_server();

}  // namespace weft::testing
