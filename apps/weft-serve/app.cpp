#include "app.hpp"

#include "rest.hpp"

#include <weft/fs.hpp>
#include <weft/http/static_files.hpp>

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string_view>
#include <unistd.h>

namespace weft::serve {
namespace {

void say(const ServeOptions& o, const std::string& line) {
  if (!o.quiet) std::printf("weft-serve: %s\n", line.c_str());
  std::fflush(stdout);
}

int complain(const std::string& line) {
  std::fprintf(stderr, "weft-serve: %s\n", line.c_str());
  return 1;
}

// The directory a sqlite: file URL's database lives in ("" for :memory: and postgres).
std::string sqlite_directory(std::string_view url) {
  if (!url.starts_with("sqlite:") || url == "sqlite::memory:") return "";
  std::string_view path = url.substr(7);
  if (path.starts_with("//")) path.remove_prefix(2);
  return std::filesystem::path(path).parent_path().string();
}

db::Options database_options(const ServeOptions& o) {
  db::Options d;
  d.synchronous = o.synchronous;
  return d;
}

}  // namespace

std::string bundled_site_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "site";
  return (exe.parent_path().parent_path() / "share" / "weft-serve" / "site").string();
}

App::App(Loop& loop, ServeOptions options)
    : loop_(loop), options_(std::move(options)), server_(loop, options_.http),
      sigint_(loop), sigterm_(loop) {}

App::~App() = default;

Task<int> App::open_database() {
  std::string dir = sqlite_directory(options_.db_url);
  try {
    if (!dir.empty()) co_await fs::mkdir(loop_, dir, {.recursive = true});
    db_ = db::open(loop_, options_.db_url, database_options(options_));
    co_await db_->ready();
    store_.emplace(*db_);
    co_await store_->open();
  } catch (const std::exception& e) {
    co_return complain("cannot open the database " + options_.db_url + ": " + e.what());
  }
  co_return 0;
}

Task<int> App::import_seed() {
  if (options_.seed.empty()) co_return 0;
  try {
    std::string text = co_await fs::read_file(loop_, options_.seed);
    nlohmann::ordered_json file = nlohmann::ordered_json::parse(text);
    SeedReport r = co_await store_->seed(file);
    for (const auto& w : r.warnings) say(options_, "seed: " + w);
    if (r.skipped) {
      say(options_, "seed: " + options_.seed + " not imported: the database is not empty");
    } else {
      say(options_, "seed: imported " + std::to_string(r.documents) + " documents in " +
                        std::to_string(r.collections) + " collections from " + options_.seed);
    }
  } catch (const std::exception& e) {
    co_return complain("cannot import the seed " + options_.seed + ": " + e.what());
  }
  co_return 0;
}

int App::listen() {
  mount_api(server_, *store_, options_);
  std::string root = options_.root.empty() ? bundled_site_dir() : options_.root;
  server_.get("/*", http::static_files(root));
  if (auto ec = server_.listen(options_.port, options_.host)) {
    return complain("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                    ": " + ec.message());
  }
  std::string host = options_.host.find(':') != std::string::npos ? "[" + options_.host + "]" : options_.host;
  say(options_, "listening on http://" + host + ":" + std::to_string(server_.port()) +
                    " (api: /api, static: " + root + ", db: " + options_.db_url +
                    (options_.read_only ? ", read-only" : "") + ")");
  return 0;
}

void App::watch_signals() {
  auto on_signal = [this](int) { stop(); };
  (void)sigint_.start(SIGINT, on_signal);
  (void)sigterm_.start(SIGTERM, on_signal);
}

Task<int> App::start() {
  watch_signals();
  if (int rc = co_await open_database()) co_return rc;
  if (int rc = co_await import_seed()) co_return rc;
  co_return listen();
}

void App::stop() {
  if (stopping_) return;
  stopping_ = true;
  sigint_.close();
  sigterm_.close();
  auto deadline = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(options_.shutdown_seconds));
  server_.close(deadline, [this] {
    if (!db_) return;
    db_->close([this](db::Outcome<Unit>& r) {
      if (!r) complain(std::string("closing the database: ") + r.what());
      say(options_, "stopped");
    });
  });
}

}  // namespace weft::serve
