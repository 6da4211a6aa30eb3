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
// Access: by default only clients on loopback (127.0.0.0/8, ::1, IPv4-mapped loopback) or
// a Unix socket are answered; others get 403. allow_remote = true answers everyone.
// With a bearer_token, a request carrying "Authorization: Bearer <token>" is answered
// from anywhere, one without it is treated by the rules above (so a token alone does
// not open the endpoints to unauthenticated remote clients). Metrics reveal routes,
// stacks and load: keep them private unless a token protects them.
//
// mount() creates a LoopMonitor for the server's loop (lag sampling, utilization, the
// watchdog unless monitor.watchdog = false) and, unless a shared Registry is given,
// a Registry of this server, that monitor and the loop's Runtime. With several loops,
// pass one Registry to every mount (and add the other loops' monitors to it).
//
// Lifetime: construct and destroy the Mount on the server's loop thread, before the loop
// closes. After it is destroyed the routes answer 404 (the server keeps them).
#pragma once

#include <weft/observe/loop_monitor.hpp>
#include <weft/observe/stats.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace weft::http {
class Server;
class Request;
}

namespace weft::observe {

struct MountOptions {
  std::string prefix = "/_weft";
  bool allow_remote = false;
  std::string bearer_token;
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

 private:
  std::shared_ptr<State> state_;
};

[[nodiscard]] std::unique_ptr<Mount> mount(http::Server& server, MountOptions options = {});

// True for 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 and Unix-socket peers.
bool is_loopback_peer(const http::Request& req) noexcept;

}  // namespace weft::observe
