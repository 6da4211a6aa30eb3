// observe::mount(server): the observation endpoints on any weft HTTP server, in one call.
//
//   auto obs = weft::observe::mount(server);          // before server.listen()
//   ...                                               // keep `obs` while the server runs
//
// Routes (GET and HEAD; prefix "/_weft" by default):
//   /_weft/metrics       Prometheus text format 0.0.4 (names in stats.hpp)
//   /_weft/stats         the JSON snapshot (shape in stats.hpp)
//   /_weft/stats/stream  server-sent events: one `data: <json snapshot>` event per
//                        stream_interval (1 s), until the client goes or the Mount is closed
//
// Access, checked by a before-middleware for every route under the prefix — these and
// any the application adds there (weft-serve's dashboard and demo) — in this order, each
// refusal a 403 with a text body saying why:
//  1. Host: the request's Host field must name localhost, 127.0.0.1, [::1] or one of
//     allowed_hosts (ASCII case-insensitive; any port; no Host at all is refused). A page
//     whose own name was made to resolve to this machine (DNS rebinding) sends its own
//     name and is refused.
//  2. Origin: when present (browsers send it on cross-origin requests and on POSTs), its
//     host must pass the same test, so a page elsewhere cannot trigger a POST route.
//  3. The peer: clients on loopback (127.0.0.0/8, ::1, IPv4-mapped loopback) or a Unix
//     socket are answered; others get 403, unless allow_remote = true or the request
//     carries "Authorization: Bearer <bearer_token>" (scheme in any case, one or more
//     spaces, the token compared in constant time). A token alone does not open the
//     endpoints to unauthenticated remote clients.
// Nothing is sent with CORS headers by mount(): other origins cannot read the answers.
// Metrics reveal routes, stacks (module offsets, no addresses) and load: keep them
// private unless a token protects them.
//
// mount() creates a LoopMonitor for the server's loop (lag sampling, utilization, the
// watchdog unless monitor.watchdog = false) and, unless a shared Registry is given,
// a Registry of this server, that monitor and the loop's Runtime. A server with
// workers > 1 gets a LoopMonitor (and a watchdog, named "loop N" in its reports) on each
// of its loops, made on that loop's thread when it starts; /_weft/metrics then has a
// loop="N" series per loop beside the totals (stats.hpp). Several servers, one per loop
// thread (weft-serve's workers): pass one Registry to every mount, with
// monitor.loop_index = that loop's number.
//
// Lifetime: construct and destroy the Mount on the server's loop thread, before the loop
// closes. After it is destroyed every path under the prefix answers 404 (the server keeps
// the routes and the middleware).
#pragma once

#include <weft/observe/loop_monitor.hpp>
#include <weft/observe/stats.hpp>

#include <weft/http/response.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::http {
class Server;
class Request;
}  // namespace weft::http

namespace weft::observe {

struct MountOptions {
  std::string prefix = "/_weft";
  bool allow_remote = false;
  std::string bearer_token;
  // Names (or IP literals; IPv6 with or without brackets) this server is reached by,
  // besides localhost, 127.0.0.1 and [::1]: add the address it listens on when that is
  // not loopback, and the names remote clients use (weft-serve: --observe-host NAME).
  std::vector<std::string> allowed_hosts;
  std::chrono::nanoseconds stream_interval = std::chrono::seconds(1);
  LoopMonitorOptions monitor;
  Registry* registry = nullptr;  // null: the Mount's own (must outlive the Mount otherwise)
};

class Mount {
 public:
  struct State;
  explicit Mount(std::shared_ptr<State> state) noexcept : state_(std::move(state)) {}
  ~Mount();
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  LoopMonitor& monitor() const noexcept;
  Registry& registry() const noexcept;
  Snapshot snapshot() const;  // the server's loop thread
  // Is this request allowed by the access rules above?
  bool allows(const http::Request& req) const noexcept;
  // nullopt when allowed; else the 403 the middleware answers, its body saying why.
  std::optional<http::Response> refusal(const http::Request& req) const;

 private:
  std::shared_ptr<State> state_;
};

[[nodiscard]] std::unique_ptr<Mount> mount(http::Server& server, MountOptions options = {});

// True for 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 and Unix-socket peers.
bool is_loopback_peer(const http::Request& req) noexcept;

// Is `path` the prefix or below it, segment by segment as the router matches paths (empty
// segments skipped: "//_weft//stats" is under "/_weft", "/_weftx" is not)?
bool is_under_prefix(std::string_view path, std::string_view prefix) noexcept;

}  // namespace weft::observe
