#include <weft/observe/mount.hpp>

#include <weft/async.hpp>
#include <weft/http/server.hpp>

#include <netinet/in.h>

#include <cstring>

namespace weft::observe {

struct Mount::State {
  MountOptions options;
  Loop& loop;
  Registry own_registry;
  Registry* registry;
  std::unique_ptr<LoopMonitor> monitor;
  const http::Server* server;
  bool closed = false;

  State(http::Server& s, MountOptions o)
      : options(std::move(o)), loop(s.loop()), registry(options.registry ? options.registry : &own_registry),
        monitor(std::make_unique<LoopMonitor>(s.loop(), options.monitor)), server(&s) {
    registry->add(*monitor);
    registry->add(s);
  }
  void close() noexcept {
    if (std::exchange(closed, true)) return;
    registry->remove(*monitor);
    registry->remove(*server);
    monitor->close();
  }
  bool allows(const http::Request& req) const noexcept;
};

namespace {

bool bearer_matches(const http::Request& req, const std::string& token) {
  if (token.empty()) return false;
  std::string_view auth = req.header("authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (auth.size() != kScheme.size() + token.size()) return false;
  if (auth.substr(0, kScheme.size()) != kScheme) return false;
  // constant-time compare of the secret part
  unsigned char diff = 0;
  for (std::size_t i = 0; i < token.size(); ++i) {
    diff |= static_cast<unsigned char>(auth[kScheme.size() + i] ^ token[i]);
  }
  return diff == 0;
}

http::Response refused() { return http::Response::status(403); }

// The body producer of /stats/stream: one event per interval while the client listens.
Task<void> stream_snapshots(std::shared_ptr<Mount::State> state, http::BodyWriter& w) {
  co_await w.write("retry: 2000\n\n");
  while (!state->closed && !w.cancelled()) {
    std::string event = "data: " + render_json(state->registry->collect()) + "\n\n";
    co_await w.write(event);
    co_await sleep(state->loop, state->options.stream_interval);
  }
}

void add_routes(http::Server& server, const std::shared_ptr<Mount::State>& st) {
  const std::string& p = st->options.prefix;
  server.get(p + "/metrics", [st](http::Request& req) {
    if (st->closed) return http::Response::status(404);
    if (!st->allows(req)) return refused();
    return http::Response::bytes(render_prometheus(st->registry->collect()),
                                 "text/plain; version=0.0.4; charset=utf-8");
  });
  server.get(p + "/stats", [st](http::Request& req) {
    if (st->closed) return http::Response::status(404);
    if (!st->allows(req)) return refused();
    http::Response res = http::Response::json(render_json(st->registry->collect()));
    res.header("Cache-Control", "no-store");
    return res;
  });
  server.get(p + "/stats/stream", [st](http::Request& req) {
    if (st->closed) return http::Response::status(404);
    if (!st->allows(req)) return refused();
    http::Response res = http::Response::stream(
        "text/event-stream", [st](http::BodyWriter& w) { return stream_snapshots(st, w); });
    res.header("Cache-Control", "no-store");
    return res;
  });
}

}  // namespace

bool Mount::State::allows(const http::Request& req) const noexcept {
  if (bearer_matches(req, options.bearer_token)) return true;
  return options.allow_remote || is_loopback_peer(req);
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
bool Mount::allows(const http::Request& req) const noexcept { return state_->allows(req); }

std::unique_ptr<Mount> mount(http::Server& server, MountOptions options) {
  auto state = std::make_shared<Mount::State>(server, std::move(options));
  add_routes(server, state);
  return std::make_unique<Mount>(std::move(state));
}

}  // namespace weft::observe
