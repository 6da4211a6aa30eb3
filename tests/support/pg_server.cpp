#include "support/pg_server.hpp"

#include <libpq-fe.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <utility>

extern char** environ;

namespace weft::testing {
namespace {

namespace fs = std::filesystem;

std::string find_bin_dir() {
  std::string best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = entry.path() / "bin";
    if (!fs::exists(bin / "initdb") || !fs::exists(bin / "pg_ctl")) continue;
    int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version) {
      best_version = version;
      best = bin.string();
    }
  }
  if (best.empty()) {
    throw std::runtime_error(
        "PostgreSQL server binaries not found (/usr/lib/postgresql/<version>/bin/initdb): "
        "apt-get install postgresql (scripts/install-deps does)");
  }
  return best;
}

// Runs argv (as the postgres user when we are root) in `cwd`, output appended to `log`.
void run(std::vector<std::string> argv, const std::string& cwd, const std::string& log) {
  if (::geteuid() == 0) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    std::string cmd;
    for (auto& a : argv) cmd += a + " ";
    throw std::runtime_error("failed: " + cmd + "\n" + text.str());
  }
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

void give_to_postgres(const std::string& path) {
  if (::geteuid() != 0) return;
  passwd* pw = ::getpwnam("postgres");
  if (!pw) throw std::runtime_error("no `postgres` user: apt-get install postgresql");
  if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown failed");
}

struct PgConnDeleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};

}  // namespace

PgServer PgServer::start() {
  PgServer s;
  s.bin_ = find_bin_dir();
  char tmpl[] = "/tmp/weft-pg-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  s.dir_ = tmpl;
  s.owner_ = true;
  ::chmod(s.dir_.c_str(), 0700);
  give_to_postgres(s.dir_);
  const std::string log = s.dir_ + "/setup.log";
  run({s.bin_ + "/initdb", "-D", s.dir_ + "/data", "-U", "postgres", "-A", "trust", "-E", "UTF8",
       "--locale=C"},
      s.dir_, log);
  for (int attempt = 0;; ++attempt) {  // a port taken between free_port() and start: retry
    s.port_ = free_port();
    std::string opts = "-p " + std::to_string(s.port_) + " -k " + s.dir_ +
                       " -c listen_addresses=127.0.0.1 -c max_connections=200";
    try {
      run({s.bin_ + "/pg_ctl", "-D", s.dir_ + "/data", "-l", s.dir_ + "/server.log", "-w", "-t",
           "60", "-o", opts, "start"},
          s.dir_, log);
      break;
    } catch (const std::exception&) {
      if (attempt == 2) throw;
    }
  }
  return s;
}

PgServer PgServer::attach(const std::string& state_file) {
  std::ifstream in(state_file);
  PgServer s;
  if (!(in >> s.dir_ >> s.port_)) {
    throw std::runtime_error("no PostgreSQL test server recorded in " + state_file +
                             " (did the DbPgServer.Start fixture fail? see its output)");
  }
  s.admin_query("SELECT 1");  // running?
  return s;
}

PgServer::PgServer(PgServer&& o) noexcept
    : bin_(std::move(o.bin_)),
      dir_(std::move(o.dir_)),
      port_(o.port_),
      owner_(std::exchange(o.owner_, false)) {}

PgServer::~PgServer() { stop(); }

void PgServer::save(const std::string& state_file) const {
  std::ofstream out(state_file, std::ios::trunc);
  out << dir_ << " " << port_ << "\n";
  if (!out) throw std::runtime_error("cannot write " + state_file);
}

void PgServer::stop() noexcept {
  if (!owner_) return;
  owner_ = false;
  try {
    if (bin_.empty()) bin_ = find_bin_dir();
    run({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "fast", "-w", "stop"}, dir_,
        dir_ + "/setup.log");
  } catch (...) {  // already stopped
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void PgServer::stop_recorded(const std::string& state_file) noexcept {
  PgServer s;
  {
    std::ifstream in(state_file);
    if (!(in >> s.dir_ >> s.port_)) return;
  }
  if (s.dir_.rfind("/tmp/weft-pg-", 0) == 0) {  // never remove anything else
    s.owner_ = true;
    s.stop();
  }
  std::error_code ec;
  fs::remove(state_file, ec);
}

std::string PgServer::url(const std::string& db) const {
  return "postgres://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::string PgServer::fresh_schema_url() {
  static std::atomic<int> counter{0};
  std::string name = "t_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  admin_query("CREATE SCHEMA " + name);
  return url() + "?options=-c%20search_path%3D" + name;
}

std::vector<std::string> PgServer::admin_query(const std::string& sql) const {
  std::unique_ptr<PGconn, PgConnDeleter> conn(PQconnectdb(url().c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot connect to the test server at " + url() + ": " +
                             PQerrorMessage(conn.get()));
  }
  PGresult* res = PQexec(conn.get(), sql.c_str());
  ExecStatusType st = PQresultStatus(res);
  std::vector<std::string> out;
  if (st == PGRES_TUPLES_OK) {
    for (int r = 0; r < PQntuples(res); ++r) out.emplace_back(PQgetvalue(res, r, 0));
  }
  std::string err = PQresultErrorMessage(res);
  PQclear(res);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) throw std::runtime_error(sql + ": " + err);
  return out;
}

PgServer& shared_pg_server() {
  static std::mutex mu;
  static std::unique_ptr<PgServer> server;
  std::lock_guard lock(mu);
  if (!server) {
    const char* state = std::getenv("WEFT_PG_TEST_STATE");
    server =
        std::make_unique<PgServer>(state && *state ? PgServer::attach(state) : PgServer::start());
  }
  return *server;
}

}  // namespace weft::testing
