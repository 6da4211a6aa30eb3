// ws::App: WebSocket routes and pub/sub on an http::Server (ws/app.hpp).
#include <weft/ws/app.hpp>

#include "ws/hub.hpp"

#include <algorithm>

namespace weft::ws {

namespace {

std::vector<std::string> param_names(std::string_view pattern) {
  std::vector<std::string> names;
  while (!pattern.empty()) {
    const std::size_t slash = pattern.find('/');
    const std::string_view seg = pattern.substr(0, slash);
    if (seg.size() > 1 && seg.front() == ':') names.emplace_back(seg.substr(1));
    if (seg == "*") names.emplace_back("*");
    if (slash == std::string_view::npos) break;
    pattern.remove_prefix(slash + 1);
  }
  return names;
}

// The sweep runs often enough for the route's shortest timeout to be met within a quarter
// of it (and at least every 5 ms, at most every second).
Duration sweep_interval(const Options& o) {
  Duration d = std::chrono::seconds(1);
  if (o.idle_timeout > Duration::zero()) d = std::min(d, o.idle_timeout / 4);
  d = std::min(d, o.close_timeout / 4);
  return std::max<Duration>(d, std::chrono::milliseconds(5));
}

// A 400 or 426 for a request that is not a handshake; the one for 426 names our version.
http::Response refusal(const http::HttpError& e) {
  http::Response res = http::Response::text(std::string(e.what()) + "\n", e.status());
  if (e.status() == 426) {
    res.header("Sec-WebSocket-Version", "13");
    res.header("Upgrade", "websocket");
  }
  return res;
}

}  // namespace

App::App(Loop& loop, http::ServerOptions options) : http::Server(loop, std::move(options)) {}

App::~App() = default;

App& App::ws(std::string_view pattern, Behavior behavior) {
  auto route = std::make_shared<detail::Route>();
  route->behavior = std::move(behavior);
  route->param_names = param_names(pattern);
  get(pattern, [this, route](http::Request& req) -> http::Response {
    try {
      detail::check_handshake(req);
    } catch (const http::HttpError& e) {
      return refusal(e);
    }
    const Options& o = route->behavior.options;
    std::shared_ptr<detail::Hub> hub = hub_for(req.loop());
    auto socket = std::allocate_shared<WebSocket>(
        detail::SlabAllocator<WebSocket>(hub->sockets_pool()), route, hub);
    if (route->behavior.upgrade) socket->set_user(route->behavior.upgrade(req));  // may throw
    std::string protocol =
        detail::choose_protocol(req.header("sec-websocket-protocol"), o.protocols);
    http::Response res(101);
    res.header("Upgrade", "websocket");
    res.header("Connection", "Upgrade");
    res.header("Sec-WebSocket-Accept", detail::accept_key(req.header("sec-websocket-key")));
    if (!protocol.empty()) res.header("Sec-WebSocket-Protocol", protocol);
    if (auto deflate = negotiate_deflate(req.header("sec-websocket-extensions"), o.compression)) {
      res.header("Sec-WebSocket-Extensions", deflate->response);
      socket->set_deflate(*deflate);
    }
    socket->set_request_info(req, route->param_names, std::move(protocol));
    res.upgrade(std::move(socket));
    return res;
  });
  std::lock_guard lock(hubs_mutex_);
  sweep_ = std::min(sweep_, sweep_interval(route->behavior.options));
  return *this;
}

std::shared_ptr<detail::Hub> App::hub_for(Loop& loop) {
  std::lock_guard lock(hubs_mutex_);
  for (const auto& h : hubs_) {
    if (&h->loop() == &loop) return h;
  }
  hubs_.push_back(std::make_shared<detail::Hub>(loop, sweep_));
  return hubs_.back();
}

std::size_t App::publish(std::string_view topic, std::string_view message, Opcode op) {
  auto frame = std::make_shared<std::string>();
  encode_frame(*frame, op, message);
  std::shared_ptr<const std::string> shared = std::move(frame);
  std::vector<std::shared_ptr<detail::Hub>> hubs;
  {
    std::lock_guard lock(hubs_mutex_);
    hubs = hubs_;
  }
  std::size_t here = 0;
  Loop* current = Loop::current();
  for (auto& hub : hubs) {
    // A hub without connections has no subscribers (and its loop may have ended: a closed
    // server's extra loops are gone).
    if (hub->open.load(std::memory_order_relaxed) == 0) continue;
    if (&hub->loop() == current) {
      here += hub->deliver(topic, op, shared);
    } else {
      hub->loop().post([hub, t = std::string(topic), op, shared] { hub->deliver(t, op, shared); });
    }
  }
  return here;
}

WsStats App::ws_stats() const {
  WsStats s;
  std::lock_guard lock(hubs_mutex_);
  for (const auto& h : hubs_) {
    s.open += h->open.load(std::memory_order_relaxed);
    s.opened += h->opened.load(std::memory_order_relaxed);
    s.dropped += h->dropped.load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace weft::ws
