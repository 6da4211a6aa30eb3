#include <weft/observe/mount.hpp>

#include "observe/access.hpp"

#include <weft/async.hpp>
#include <weft/http/server.hpp>

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>

namespace weft::observe {

// Why a request is refused (none: it is answered).
enum class Refusal { none, host, origin, peer };

struct Mount::State {
  MountOptions options;
  Loop& loop;
  Registry own_registry;
  Registry* registry;
  std::unique_ptr<LoopMonitor> monitor;
  // The extra loops' monitors (workers > 1), each made and ended on its own loop's thread.
  std::mutex extras_mu;
  std::vector<std::unique_ptr<LoopMonitor>> extra_monitors;
  const http::Server* server;
  std::vector<std::string> hosts;  // normalized: the loopback names, then allowed_hosts
  bool closed = false;

  State(http::Server& s, MountOptions o)
      : options(std::move(o)),
        loop(s.loop()),
        registry(options.registry ? options.registry : &own_registry),
        monitor(std::make_unique<LoopMonitor>(s.loop(), monitor_options(0, s.workers()))),
        server(&s),
        hosts{"localhost", "127.0.0.1", "[::1]"} {
    for (const std::string& h : options.allowed_hosts) hosts.push_back(detail::normalize_host(h));
    registry->add(*monitor);
    registry->add(s, options.monitor.loop_index);
  }
  // Loop k of the server: its index, and its name in watchdog reports when there are several
  // (the extra loops leave pool jobs to loop 0's watchdog: the pools are shared).
  LoopMonitorOptions monitor_options(unsigned k, unsigned workers) const {
    LoopMonitorOptions o = options.monitor;
    o.loop_index += k;
    if (workers > 1 && o.watchdog_options.loop_name.empty()) {
      o.watchdog_options.loop_name = "loop " + std::to_string(o.loop_index);
    }
    if (k > 0) o.watchdog_options.job_threshold = std::chrono::nanoseconds::zero();
    return o;
  }
  void start_extra(Loop& extra, unsigned k) {
    auto m = std::make_unique<LoopMonitor>(extra, monitor_options(k, server->workers()));
    registry->add(*m);
    std::lock_guard lock(extras_mu);
    extra_monitors.push_back(std::move(m));
  }
  void stop_extra(Loop& extra) {
    std::unique_ptr<LoopMonitor> m;
    {
      std::lock_guard lock(extras_mu);
      auto it = std::find_if(extra_monitors.begin(), extra_monitors.end(),
                             [&](const auto& e) { return &e->loop() == &extra; });
      if (it == extra_monitors.end()) return;
      m = std::move(*it);
      extra_monitors.erase(it);
    }
    registry->remove(*m);
    m->close();
  }
  void close() noexcept {
    if (std::exchange(closed, true)) return;
    registry->remove(*monitor);
    registry->remove(*server);
    monitor->close();
  }
  bool is_allowed_host(std::optional<std::string_view> name) const noexcept;
  bool has_bearer_token(const http::Request& req) const noexcept;
  Refusal check(const http::Request& req) const noexcept;
};

namespace {

http::Response refused(Refusal why) {
  const char* text = "";
  switch (why) {
    case Refusal::host:
      text =
          "403: /_weft/ answers requests whose Host is localhost, 127.0.0.1, [::1] or a name "
          "it was given (MountOptions::allowed_hosts; weft-serve: --observe-host NAME), so "
          "that a page elsewhere cannot reach it by DNS rebinding\n";
      break;
    case Refusal::origin:
      text =
          "403: /_weft/ refuses requests made by pages from other origins (the Origin header "
          "must name an allowed host, as Host does)\n";
      break;
    case Refusal::peer:
    case Refusal::none:
      text =
          "403: /_weft/ answers loopback clients only, unless opened to remote ones "
          "(MountOptions::allow_remote or bearer_token; weft-serve: --observe-remote or "
          "--observe-token-file with \"Authorization: Bearer TOKEN\")\n";
      break;
  }
  http::Response res = http::Response::text(text, 403);
  res.header("Cache-Control", "no-store");
  return res;
}

// The body producer of /stats/stream: one event per interval while the client listens.
Task<void> stream_snapshots(std::shared_ptr<Mount::State> state, http::BodyWriter& w) {
  co_await w.write("retry: 2000\n\n");
  while (!state->closed && !w.cancelled()) {
    std::string event = "data: " + render_json(state->registry->collect()) + "\n\n";
    co_await w.write(event);
    co_await sleep(state->loop, state->options.stream_interval);
  }
}

// Every path under the prefix, whoever registered its route, passes the access rule here
// first: a route cannot forget it. A closed Mount answers 404 for all of them.
void guard_prefix(http::Server& server, const std::shared_ptr<Mount::State>& st) {
  server.before([st](http::Request& req) -> std::optional<http::Response> {
    if (!is_under_prefix(req.path(), st->options.prefix)) return std::nullopt;
    if (st->closed) return http::Response::status(404);
    const Refusal why = st->check(req);
    if (why == Refusal::none) return std::nullopt;
    return refused(why);
  });
}

// The routes check nothing themselves: guard_prefix() has (and answers 404 once closed).
void add_routes(http::Server& server, const std::shared_ptr<Mount::State>& st) {
  const std::string& p = st->options.prefix;
  server.get(p + "/metrics", [st](http::Request&) {
    return http::Response::bytes(render_prometheus(st->registry->collect()),
                                 "text/plain; version=0.0.4; charset=utf-8");
  });
  server.get(p + "/stats", [st](http::Request&) {
    http::Response res = http::Response::json(render_json(st->registry->collect()));
    res.header("Cache-Control", "no-store");
    return res;
  });
  server.get(p + "/stats/stream", [st](http::Request&) {
    http::Response res = http::Response::stream(
        "text/event-stream", [st](http::BodyWriter& w) { return stream_snapshots(st, w); });
    res.header("Cache-Control", "no-store");
    return res;
  });
}

}  // namespace

bool Mount::State::is_allowed_host(std::optional<std::string_view> name) const noexcept {
  if (!name) return false;
  return std::any_of(hosts.begin(), hosts.end(),
                     [&](const std::string& h) { return detail::same_host(*name, h); });
}

bool Mount::State::has_bearer_token(const http::Request& req) const noexcept {
  if (options.bearer_token.empty()) return false;
  const auto token = detail::bearer_token_of(req.header("authorization"));
  return token && detail::same_secret(*token, options.bearer_token);
}

Refusal Mount::State::check(const http::Request& req) const noexcept {
  if (!is_allowed_host(detail::host_of_host_field(req.header("host")))) return Refusal::host;
  const std::string_view origin = req.header("origin");
  if (!origin.empty() && !is_allowed_host(detail::host_of_origin(origin))) return Refusal::origin;
  if (options.allow_remote || is_loopback_peer(req) || has_bearer_token(req)) return Refusal::none;
  return Refusal::peer;
}

bool is_under_prefix(std::string_view path, std::string_view prefix) noexcept {
  // Compares the non-empty segments of both, as the router does; the path may go on.
  auto next = [](std::string_view& s) {
    while (s.starts_with('/')) s.remove_prefix(1);
    const auto end = std::min(s.find('/'), s.size());
    std::string_view seg = s.substr(0, end);
    s.remove_prefix(end);
    return seg;
  };
  for (std::string_view want = next(prefix); !want.empty(); want = next(prefix)) {
    if (next(path) != want) return false;
  }
  return true;
}

bool is_loopback_peer(const http::Request& req) noexcept {
  const net::SocketAddress* peer = req.peer();
  if (!peer) return false;
  if (peer->is_unix()) return true;
  if (peer->is_ipv4()) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(peer->data());
    return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
  }
  if (peer->is_ipv6()) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(peer->data());
    if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && sin6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

Mount::~Mount() { state_->close(); }
LoopMonitor& Mount::monitor() const noexcept { return *state_->monitor; }
Registry& Mount::registry() const noexcept { return *state_->registry; }
Snapshot Mount::snapshot() const { return state_->registry->collect(); }
bool Mount::allows(const http::Request& req) const noexcept {
  return state_->check(req) == Refusal::none;
}
std::optional<http::Response> Mount::refusal(const http::Request& req) const {
  const Refusal why = state_->check(req);
  if (why == Refusal::none) return std::nullopt;
  return refused(why);
}

// With workers > 1, every extra loop gets its monitor (and watchdog) while it runs. The hooks
// hold the State: an extra loop may end after the Mount (then its figures stay registered
// until it ends; a shared Registry must outlive the server's loops).
void monitor_extra_loops(http::Server& server, const std::shared_ptr<Mount::State>& st) {
  if (server.workers() <= 1) return;
  server.on_extra_loop([st](Loop& loop, unsigned k) { st->start_extra(loop, k); },
                       [st](Loop& loop, unsigned) { st->stop_extra(loop); });
}

std::unique_ptr<Mount> mount(http::Server& server, MountOptions options) {
  auto state = std::make_shared<Mount::State>(server, std::move(options));
  monitor_extra_loops(server, state);
  guard_prefix(server, state);
  add_routes(server, state);
  return std::make_unique<Mount>(std::move(state));
}

}  // namespace weft::observe
