#include "app.hpp"

#include "demo.hpp"
#include "feed_routes.hpp"
#include "rest.hpp"

#include <weft/fs.hpp>
#include <weft/http/static_files.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string_view>

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
  d.sqlite.synchronous = o.synchronous;
  d.group_commit = o.group_commit;
  // The same time limit on both backends: a slow list scan ends with a 503 and frees its
  // reader (see rest.cpp) instead of holding it for as long as the scan takes.
  d.sqlite.statement_timeout = std::chrono::milliseconds(o.statement_timeout_ms);
  d.postgres.query_timeout = std::chrono::milliseconds(o.statement_timeout_ms);
  return d;
}

http::ServerOptions server_options(const ServeOptions& o) {
  http::ServerOptions s = o.http;
  s.reuse_port = resolve_workers(o) > 1;
  return s;
}

std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

std::string bundled_site_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "site";
  return (exe.parent_path().parent_path() / "share" / "weft-serve" / "site").string();
}

unsigned resolve_workers(const ServeOptions& o) {
  if (o.db_url == "sqlite::memory:") return 1;
  if (o.workers > 0) return static_cast<unsigned>(o.workers);
  return std::max(1u, std::thread::hardware_concurrency());
}

// ---- Site --------------------------------------------------------------------------------

Site::Site(Loop& loop, const ServeOptions& options, unsigned index, Site* home,
           observe::Registry* registry)
    : loop_(loop),
      options_(options),
      index_(index),
      home_(home),
      server_(loop, server_options(options)),
      registry_(registry) {}

Site::~Site() {
  if (registry_ && db_) registry_->remove_database(db_.get());
}

Task<int> Site::open_database() {
  std::string dir = sqlite_directory(options_.db_url);
  try {
    if (!dir.empty() && index_ == 0) co_await fs::mkdir(loop_, dir, {.recursive = true});
    db_ = db::open(loop_, options_.db_url, database_options(options_));
    co_await db_->ready();
    if (registry_ && index_ == 0) {  // the writer: group commit figures
      registry_->add_database(db_.get(), [db = db_.get()] {
        const db::GroupStats g = db->group_stats();
        return observe::DbGroupStats{g.groups, g.grouped_writes, g.group_size, g.commit_ns,
                                     g.group_ns};
      });
    }
    store_.emplace(*db_);
    co_await store_->open();
    if (home_) store_->write_through(*home_->store_, home_->loop_);
  } catch (const std::exception& e) {
    co_return complain("cannot open the database " + options_.db_url + ": " + e.what());
  }
  co_return 0;
}

Task<int> Site::import_seed() {
  if (options_.seed.empty() || index_ != 0) co_return 0;
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

void Site::mount_observation() {
  observe::MountOptions o;
  o.allow_remote = options_.observe_remote;
  o.bearer_token = options_.observe_token;
  o.allowed_hosts = options_.observe_hosts;
  o.allowed_hosts.push_back(options_.host);  // the address clients reach us by (--host)
  o.registry = registry_;
  o.monitor.watchdog = options_.watchdog_ms > 0;
  if (o.monitor.watchdog) {
    o.monitor.watchdog_options.threshold = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double, std::milli>(options_.watchdog_ms));
  }
  // One Site per loop thread: its loop's number in the loop="N" series and stall reports.
  o.monitor.loop_index = index_;
  if (resolve_workers(options_) > 1) {
    o.monitor.watchdog_options.loop_name = "loop " + std::to_string(index_);
    if (index_ > 0) o.monitor.watchdog_options.job_threshold = std::chrono::nanoseconds::zero();
  }
  observe_ = observe::mount(server_, std::move(o));
  if (options_.demo) mount_demo(server_);
  mount_dashboard(server_, bundled_dashboard_dir());
}

int Site::listen(std::uint16_t port) {
  if (options_.observe) mount_observation();
  if (!options_.proxy.rules.empty()) mount_proxy(server_, options_.proxy);
  mount_feed(server_, hub_, options_);  // before mount_api: /api/:collection/:id would match
  mount_api(server_, *store_, options_);
  std::string root = options_.root.empty() ? bundled_site_dir() : options_.root;
  server_.get("/*", http::static_files(root));
  if (auto ec = server_.listen(port, options_.host)) {
    return complain("cannot listen on " + options_.host + ":" + std::to_string(port) + ": " +
                    ec.message());
  }
  return 0;
}

// Site 0 starts the Feed (which its Store pokes after each write); every site's hub
// receives its batches.
Task<int> Site::start_feed() {
  const Backend backend = store_->backend();
  hub_ = std::make_shared<FeedHub>(loop_, *db_, backend, FeedLimits{options_.feed_max_buffer});
  if (index_ == 0) {
    feed_ = std::make_unique<Feed>(loop_, *db_, backend, options_);
    try {
      co_await feed_->start();
    } catch (const std::exception& e) {
      co_return complain(std::string("cannot start the change feed: ") + e.what());
    }
    store_->on_change([feed = feed_.get()] { feed->poke(); });
    if (registry_) {
      registry_->add_section(feed_.get(), "feed",
                             [feed = feed_.get()] { return feed_stats_json(feed->stats()); });
    }
  }
  Feed* feed = index_ == 0 ? feed_.get() : home_->feed();
  feed->attach(loop_, hub_);
  co_return 0;
}

Task<int> Site::start(std::uint16_t port) {
  if (int rc = co_await open_database()) co_return rc;
  if (int rc = co_await import_seed()) co_return rc;
  if (int rc = co_await start_feed()) co_return rc;
  co_return listen(port);
}

void Site::close_server(Function<void()> done) {
  if (hub_) {  // the event streams end, so that the server can finish their responses
    Feed* feed = index_ == 0 ? feed_.get() : home_->feed();
    if (feed) feed->detach(hub_.get());
    hub_->close();
  }
  auto deadline = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(options_.shutdown_seconds));
  server_.close(deadline, [this, done = std::move(done)]() mutable {
    observe_.reset();  // its sampler and watchdog stop with the server
    if (done) done();
  });
}

void Site::close_database(Function<void()> done) {
  if (feed_) {
    feed_->stop();
    if (registry_) registry_->remove_section(feed_.get());
  }
  if (!db_) {
    if (done) done();
    return;
  }
  db_->close([done = std::move(done)](db::Outcome<void>& r) mutable {
    if (!r) complain(std::string("closing the database: ") + r.what());
    if (done) done();
  });
}

void Site::stop(Function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  close_server([this, done = std::move(done)]() mutable { close_database(std::move(done)); });
}

// ---- App ---------------------------------------------------------------------------------

// A loop thread of its own (LoopThread) with its Site, which is created, started and
// destroyed on that thread (an exit hook, before the loop goes).
struct App::Worker {
  std::unique_ptr<Site> site;  // on the worker's loop
  std::unique_ptr<LoopThread> thread;
};

// --max-connections holds over all loops: every site's server counts in one limit.
App::App(Loop& loop, ServeOptions options)
    : loop_(loop), options_(std::move(options)), sigint_(loop), sigterm_(loop), sighup_(loop) {
  if (options_.http.max_connections && !options_.http.connection_limit) {
    options_.http.connection_limit =
        std::make_shared<http::ConnectionLimit>(options_.http.max_connections);
  }
}

App::~App() {
  for (auto& w : workers_) w->thread.reset();  // stops (if still running) and joins
}

// Site i on a loop thread of its own; its start (database, listener) is the thread's
// setup, so a failure comes back as the constructor's exception.
std::unique_ptr<App::Worker> App::start_worker(unsigned i, std::uint16_t port) {
  auto w = std::make_unique<Worker>();
  LoopThreadOptions o{.name = "weft-serve-" + std::to_string(i), .runtime = loop_.runtime_ptr()};
  w->thread = std::make_unique<LoopThread>(std::move(o), [&](LoopThread& t) {
    t.on_exit([w = w.get()] { w->site.reset(); });
    w->site = std::make_unique<Site>(t.loop(), options_, i, site_.get(), &registry_);
    if (run_until_complete(t.loop(), w->site->start(port)) != 0) {
      bool stopped = false;  // what it opened closes before the thread ends
      w->site->stop([&stopped] { stopped = true; });
      while (!stopped) t.loop().run(RunMode::once);
      throw std::runtime_error("worker " + std::to_string(i) + " did not start");
    }
  });
  return w;
}

int App::start_workers(std::uint16_t port) {
  const unsigned n = resolve_workers(options_);
  for (unsigned i = 1; i < n; ++i) {
    try {
      workers_.push_back(start_worker(i, port));
    } catch (const std::exception& e) {
      return complain(e.what());  // the worker said why on stderr
    }
    ++workers_running_;
  }
  return 0;
}

void App::watch_signals() {
  auto on_signal = [this](int) { stop(); };
  (void)sigint_.start(SIGINT, on_signal);
  (void)sigterm_.start(SIGTERM, on_signal);
}

// The TLS context every loop's server shares (so SIGHUP's reload reaches them all).
int App::start_tls() {
  if (options_.tls_cert.empty()) return 0;
  tls::ServerConfig config;
  config.certificates.push_back({.cert_file = options_.tls_cert,
                                 .key_file = options_.tls_key,
                                 .cert_pem = {},
                                 .key_pem = {}});
  try {
    options_.http.tls = tls::Context::server(std::move(config));
  } catch (const std::exception& e) {
    return complain(e.what());
  }
  (void)sighup_.start(SIGHUP, [this](int) {
    try {
      options_.http.tls.reload();
      say(options_, "certificates reloaded");
    } catch (const std::exception& e) {
      complain(std::string("reload failed, keeping the old certificates: ") + e.what());
    }
  });
  sighup_.unref();
  return 0;
}

// A plain listener whose every answer is 308 to the same target over https. The host is
// the request's (validated by the parser as uri-host[:port]; its port replaced by ours).
int App::start_redirect() {
  if (!options_.tls_redirect_from) return 0;
  redirect_ = std::make_unique<http::Server>(loop_);
  const std::uint16_t https_port = site_->port();
  auto to_https = [https_port](http::Request& req) {
    std::string_view host = req.host();
    if (host.empty()) return http::Response::text("a Host header is needed\n", 400);
    if (const auto colon = host.rfind(':'); colon != std::string_view::npos && host.back() != ']') {
      host = host.substr(0, colon);
    }
    std::string location = "https://" + std::string(host);
    if (https_port != 443) location += ":" + std::to_string(https_port);
    location += req.target().starts_with('/') ? std::string(req.target()) : "/";
    http::Response res = http::Response::status(308);
    res.header("Location", location);
    return res;
  };
  for (const char* m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    redirect_->route(m, "/*", to_https);  // "/*" matches "/" too
  }
  if (auto ec = redirect_->listen(options_.tls_redirect_from, options_.host)) {
    return complain("cannot listen on " + options_.host + ":" +
                    std::to_string(options_.tls_redirect_from) + ": " + ec.message());
  }
  return 0;
}

Task<int> App::start() {
  watch_signals();
  if (int rc = start_tls()) co_return rc;
  registry_.set_runtime(loop_.runtime_ptr());
  site_ = std::make_unique<Site>(loop_, options_, 0, nullptr, &registry_);
  if (int rc = co_await site_->start(options_.port)) co_return rc;
  if (int rc = start_workers(site_->port())) co_return rc;
  if (int rc = start_redirect()) co_return rc;
  const unsigned loops = 1 + static_cast<unsigned>(workers_.size());
  if (redirect_) {
    say(options_, "redirecting http://" + url_host(options_.host) + ":" +
                      std::to_string(redirect_->port()) + " to https");
  }
  say(options_,
      std::string("listening on ") + (options_.http.tls ? "https://" : "http://") +
          url_host(options_.host) + ":" + std::to_string(site_->port()) +
          " (api: /api, static: " + (options_.root.empty() ? bundled_site_dir() : options_.root) +
          ", db: " + options_.db_url + ", loops: " + std::to_string(loops) +
          (options_.read_only ? ", read-only" : "") + ")");
  co_return 0;
}

// Every site stops serving at once; site 0 closes its database last, once every worker
// (whose writes go to it) has stopped.
void App::stop() {
  if (stopping_) return;
  stopping_ = true;
  sigint_.close();
  sigterm_.close();
  sighup_.close();
  if (redirect_) redirect_->close(std::chrono::seconds(1));
  if (!site_) return;
  waiting_ = Loop::KeepAlive(loop_);
  site_->close_server([this] {
    server_closed_ = true;
    finish_if_done();
  });
  for (auto& w : workers_) {
    w->thread->post([this, w = w.get()] {
      w->site->stop([this, w] {
        w->thread->stop();  // the loop finishes what is left, then the thread ends
        loop_.post([this] { worker_stopped(); });
      });
    });
  }
}

void App::worker_stopped() {
  --workers_running_;
  finish_if_done();
}

void App::finish_if_done() {
  if (!server_closed_ || workers_running_ > 0) return;
  site_->close_database([this] {
    for (auto& w : workers_) w->thread->join();
    waiting_.reset();
    say(options_, "stopped");
  });
}

}  // namespace weft::serve
